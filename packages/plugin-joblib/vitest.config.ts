import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig({ hookTimeout: 600_000 })
