import { skywardTestConfig } from "../../vitest.shared"

// Two files at a time: each starts its own moto on a free port; only emulator.test.ts makes hosts
// (network namespaces), so no two files share a namespace, route or server.
export default skywardTestConfig({ setupFiles: ["test/setup.ts"], hookTimeout: 180_000, fileParallelism: true, maxWorkers: 2, minWorkers: 1 })
