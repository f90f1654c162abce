import { skywardTestConfig } from "../../vitest.shared"

// Three files at a time: each file works in folders of its own (its projects, state, hosts, moto) and
// most of a file's time is its pools starting, stopping and waiting, not computing.
export default skywardTestConfig({ testTimeout: 300_000, fileParallelism: true, maxWorkers: 3, minWorkers: 1 })
