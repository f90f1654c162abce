import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig()
