import { Cause, Effect, ExecutionStrategy, Exit, Scope } from "effect"
import type { EventHub } from "./event-hub.js"
import { decideScaling } from "./scaling.js"
import type { Scheduler } from "./scheduler.js"

/** How often an elastic pool looks at its queue and its nodes. */
const DECISION_INTERVAL = "1 second"

/** After a node failed to come up, the pool waits this long (doubling per failure in a row, up to the cap) before adding again. */
const RETRY_AFTER_FAILURE_MS = 5_000
const MAX_RETRY_AFTER_FAILURE_MS = 120_000

/** What an elastic pool's controller works with. */
export interface ElasticSettings {
  readonly min: number
  readonly max: number
  /** Seconds an added node may stay idle. */
  readonly scaleDownAfter: number
  /** Seconds the pool's first nodes took from provisioning to their agents' hello: the first measure of a node's readiness. */
  readonly readySeconds: number
  /** The index the first added node gets (the pool's nodes are 0..n-1). */
  readonly firstIndex: number
  /** Slots a node brings (the first nodes'), until a node added says. */
  readonly slotsPerNode: number
  readonly scheduler: Scheduler
  readonly events: EventHub
  /** Where added nodes' scopes are made: it closes after the scheduler, so a pool closing loses no node. */
  readonly nodesScope: Scope.Scope
  /**
   * Provisions node `index`, bootstraps it and joins its agent to the scheduler, all in the current
   * scope (closing it ends the node); returns its slots.
   */
  readonly add: (index: number) => Effect.Effect<number, unknown, Scope.Scope>
}

/**
 * Runs an elastic pool's decisions (see `decideScaling`) until the pool's scope closes: adds nodes
 * in the background (each in a scope of its own within the pool's), removes idle added nodes
 * through the scheduler (only a node with no task leaves) and ends them, and ends added nodes that
 * were lost. Every decision is a `PoolScaled` event with its reason.
 */
export const runElastic = (settings: ElasticSettings): Effect.Effect<never, never, Scope.Scope> =>
  Effect.gen(function* () {
    const { scheduler, events, nodesScope } = settings
    const poolScope = yield* Effect.scope
    /** Nodes added and ready, with the scope that ends them. */
    const added = new Map<number, Scope.CloseableScope>()
    let readySeconds = settings.readySeconds
    let slotsPerNode = settings.slotsPerNode
    let nextIndex = settings.firstIndex
    let adding = 0
    let waitingSince: number | undefined
    let failuresInARow = 0
    let retryAt = 0

    const end = (node: number) => {
      const scope = added.get(node)!
      added.delete(node)
      return Effect.forkIn(Effect.uninterruptible(Scope.close(scope, Exit.void)), poolScope)
    }

    const addOne = (index: number) =>
      Effect.gen(function* () {
        const scope = yield* Scope.fork(nodesScope, ExecutionStrategy.sequential)
        const started = Date.now()
        const exit = yield* Effect.exit(Scope.extend(settings.add(index), scope))
        adding--
        if (Exit.isSuccess(exit)) {
          added.set(index, scope)
          readySeconds = (Date.now() - started) / 1000
          slotsPerNode = exit.value
          failuresInARow = 0
          return
        }
        yield* Scope.close(scope, exit)
        if (Exit.isInterrupted(exit)) return
        failuresInARow++
        retryAt = Date.now() + Math.min(RETRY_AFTER_FAILURE_MS * 2 ** (failuresInARow - 1), MAX_RETRY_AFTER_FAILURE_MS)
        const error = Cause.squash(exit.cause)
        events.emit({ _tag: "NodeAddFailed", node: index, reason: error instanceof Error ? error.message : String(error) })
      })

    const decide = Effect.gen(function* () {
      const now = Date.now()
      const live = new Set(scheduler.liveNodes)
      // an added node lost (its machine gone, its network cut) is ended now, not when the pool closes
      for (const node of [...added.keys()]) if (!live.has(node)) yield* end(node)
      const queued = scheduler.queued
      waitingSince = queued > 0 ? (waitingSince ?? now) : undefined
      const decision = decideScaling({
        min: settings.min,
        max: settings.max,
        live: live.size,
        adding,
        slots: scheduler.totalSlots,
        slotsPerNode,
        queued,
        taskSeconds: scheduler.taskSeconds,
        waitingSeconds: waitingSince === undefined ? 0 : (now - waitingSince) / 1000,
        readySeconds,
        idle: [...added.keys()].map((node) => ({ node, seconds: scheduler.idleSeconds(node) })),
        scaleDownAfter: settings.scaleDownAfter
      })
      if (decision === undefined) return
      if (decision.direction === "down") {
        const removed = decision.nodes.filter((node) => scheduler.retire(node))
        if (removed.length === 0) return
        events.emit({ _tag: "PoolScaled", direction: "down", nodes: removed, live: live.size - removed.length, reason: decision.reason })
        for (const node of removed) yield* end(node)
        return
      }
      if (now < retryAt) return
      const indices = Array.from({ length: decision.count }, () => nextIndex++)
      adding += indices.length
      events.emit({ _tag: "PoolScaled", direction: decision.direction, nodes: indices, live: live.size + adding, reason: decision.reason })
      for (const index of indices) yield* Effect.forkIn(addOne(index), poolScope)
    })

    return yield* Effect.forever(Effect.zipRight(Effect.sleep(DECISION_INTERVAL), decide))
  })
