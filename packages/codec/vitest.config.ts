import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig({ testTimeout: 60_000, fileParallelism: true })
