/**
 * @skyward/testing: test a Skyward plugin against a real local pool in a few lines of vitest.
 *
 * ```ts
 * import { runPluginHooks, withTestPool } from "@skyward/testing"
 *
 * expect(runPluginHooks(myPlugin()).problems).toEqual([])
 * const { value, events } = await withTestPool({ plugins: [myPlugin()] }, ({ pool }) => pool.map("math:sqrt", [4]))
 * ```
 *
 * `withTestPool` opens the pool, runs your body, closes the pool and fails when an agent, a slot
 * process or a node folder outlived it.
 * @packageDocumentation
 */

/** Run a body against a real local pool; events, logs and client-side Python included; leak-checked. */
export {
  withTestPool,
  type PythonResult,
  type RunPythonOptions,
  type TestPoolContext,
  type TestPoolResult,
  type TestPoolSettings
} from "./internal/pool.js"

/** Run a plugin's client-side hooks with no pool at all and list what is wrong with it. */
export { runPluginHooks, type HookCluster, type PluginHookReport } from "./internal/hooks.js"

/** The leak check on its own, for tests that manage their pools themselves. */
export { descendantsOf, findLeaks, isAlive, LeakError, type Leaks } from "./internal/leaks.js"
