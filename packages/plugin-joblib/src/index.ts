/**
 * @skyward/plugin-joblib: run `joblib.Parallel` on every slot of the pool.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { joblib } from "@skyward/plugin-joblib"
 * await ComputePool.use({ nodes: 2, plugins: [joblib()] }, async (pool) => pool.client.env)
 * ```
 *
 * The Python half, `skyward_joblib`, lives in this package's `python/` folder: a joblib backend
 * ("skyward") that sends each batch over the client bridge started here.
 * @packageDocumentation
 */

/** The joblib plugin factory, its options, and the helpers `sklearn()` builds on (its client set-up, pinned requirements). */
export { joblib, joblibClient, requirement, type JoblibOptions } from "./internal/plugin.js"

/** The client bridge: a Unix socket in a private directory that runs clients' pickled tasks on a pool. */
export { startBridge, type Bridge, type BridgeOptions } from "./internal/bridge-server.js"

/** What the bridge needs of a pool (a `ComputePoolShape` or a `PromisePool` both fit). */
export type { BridgePool } from "./internal/bridge-connection.js"

/** The bridge could not start. */
export { BridgeError } from "./internal/errors.js"
