/** The client bridge of the joblib plugin, started on its own (a fake pool behind it) for the tests that attack it. */
import { startBridge, type BridgePool } from "@skyward/plugin-joblib"
import { Effect, Exit, Scope } from "effect"

/** Starts a bridge in front of `pool`, logging to `log`; `close` stops it. */
export const openBridge = async (pool: BridgePool, log: (line: string) => void) => {
  const scope = Effect.runSync(Scope.make())
  const bridge = await Effect.runPromise(Scope.extend(startBridge(pool, { log, helloTimeoutMs: 5_000 }), scope))
  return { bridge, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}
