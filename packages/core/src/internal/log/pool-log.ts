import { Effect, type Scope } from "effect"
import type { PoolLogStream } from "@skyward/contracts"
import type { EventHub } from "../event-hub.js"
import { makePoolLog } from "./render.js"

/**
 * Logs the pool's events on `stream` (the pool option `log`) for as long as the scope is open;
 * the last task line is written when it closes.
 */
export const poolLog = (events: EventHub, stream: PoolLogStream): Effect.Effect<void, never, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.sync(() => {
      const log = makePoolLog(stream)
      const unsubscribe = events.subscribe(log.listener)
      return () => {
        unsubscribe()
        log.stop()
      }
    }),
    (release) => Effect.sync(release)
  ).pipe(Effect.asVoid)

