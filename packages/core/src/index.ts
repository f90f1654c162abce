/**
 * @skyward/core: provision a pool of machines, bootstrap Python on them, run Python work there.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * await ComputePool.use({ nodes: 2, worker: { concurrency: 2 } }, (pool) => pool.map("math:sqrt", [1, 4, 9]))
 * ```
 *
 * The engine (the pool, its scheduler, its links to the agents) lives here; the contracts it is
 * written against live in `@skyward/contracts`, and are handed on from here too.
 * @packageDocumentation
 */
export { checkPluginCompatibility, CORE_VERSION } from "./internal/compatibility.js"
export { ComputePool, type PromisePool } from "./internal/compute-pool.js"
export { makePoolLog, type PoolLog, type PoolLogOptions } from "./internal/log/render.js"
export { mirrorEnvironment, type EnvironmentMirror } from "./internal/mirror/mirror.js"
export { makeComputePool } from "./internal/pool.js"
export { snapshotWorkdir } from "./internal/workdir/snapshot.js"
export { local, type LocalOptions } from "@skyward/provider-local"
// the contracts, for users who import every Skyward name from here (ComputePool, Image, Worker, Plugin, the errors, ...)
export * from "@skyward/contracts"
