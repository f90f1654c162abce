/**
 * @skyward/plugin-sklearn: scikit-learn's `n_jobs=-1` on every slot of the pool.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { sklearn } from "@skyward/plugin-sklearn"
 * await ComputePool.use({ nodes: 4, worker: { concurrency: 8 }, plugins: [sklearn()] }, async (pool) => pool.client)
 * ```
 *
 * Built on `@skyward/plugin-joblib`: the same joblib backend and client bridge, plus scikit-learn.
 * @packageDocumentation
 */

/** The scikit-learn plugin factory and its options. */
export { sklearn, type SklearnOptions } from "./internal/plugin.js"
