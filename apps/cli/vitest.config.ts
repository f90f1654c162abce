import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig({ testTimeout: 300_000 })
