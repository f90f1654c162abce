import { skywardTestConfig } from "../../vitest.shared"

// the two files at once: each works in folders of its own, and most of pack's time is npm installing
export default skywardTestConfig({ testTimeout: 300_000, fileParallelism: true, maxWorkers: 2, minWorkers: 1 })
