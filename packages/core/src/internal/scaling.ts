/** What an elastic pool knows when it decides, once a second. */
export interface ScalingView {
  readonly min: number
  readonly max: number
  /** Nodes alive now. */
  readonly live: number
  /** Nodes being added (provisioned, bootstrapped), not ready yet. */
  readonly adding: number
  /** Slots of the live nodes. */
  readonly slots: number
  /** Slots a node brings (the last one's). */
  readonly slotsPerNode: number
  /** Tasks no node holds. */
  readonly queued: number
  /** A task's run time on a slot, smoothed; undefined before one ended. */
  readonly taskSeconds: number | undefined
  /** How long tasks have been waiting without a break (the queue not empty). */
  readonly waitingSeconds: number
  /** How long the last node added took from asking the provider to its agent's hello (measured). */
  readonly readySeconds: number
  /** Nodes that may be removed (added ones; those a pool opened with stay), and how long each has had no task. */
  readonly idle: ReadonlyArray<{ readonly node: number; readonly seconds: number }>
  readonly scaleDownAfter: number
}

/** What to do: add `count` nodes, or remove `nodes`; and why, in words for the user. */
export type ScalingDecision =
  | { readonly direction: "up" | "replace"; readonly count: number; readonly reason: string }
  | { readonly direction: "down"; readonly nodes: ReadonlyArray<number>; readonly reason: string }

const seconds = (s: number) => (s < 10 ? `${s.toFixed(1)}s` : s < 90 ? `${Math.round(s)}s` : `${Math.round(s / 60)}m`)

/**
 * An elastic pool's rule. Below `min` (nodes lost): replace them. Tasks waiting: the queue's work
 * spread over the slots (those being added included) is how long its last task waits; while that is
 * longer than a node takes to get ready, a node pays for itself, so add the nodes that bring the wait
 * down to a node's readiness (at most `max`). Before any task has ended, the time tasks have waited
 * so far stands for the wait. Nothing queued: remove nodes idle for `scaleDownAfter`, never below `min`.
 */
export const decideScaling = (view: ScalingView): ScalingDecision | undefined => {
  const planned = view.live + view.adding
  if (planned < view.min)
    return { direction: "replace", count: view.min - planned, reason: `${view.live} of at least ${view.min} nodes alive` }
  if (view.queued > 0) {
    if (planned >= view.max) return undefined
    const slotsPlanned = Math.max(view.slots + view.adding * view.slotsPerNode, 1)
    const work = view.taskSeconds === undefined ? undefined : view.queued * view.taskSeconds
    const wait = work === undefined ? view.waitingSeconds : work / slotsPlanned
    if (!(wait > view.readySeconds)) return undefined
    // the fewest nodes that bring the queue's wait down to a node's readiness
    const wanted = work === undefined ? 1 : Math.ceil(work / Math.max(view.readySeconds, 1e-3) / Math.max(view.slotsPerNode, 1)) - planned
    const count = Math.max(1, Math.min(view.max - planned, wanted))
    const what = work === undefined ? `tasks have waited ${seconds(wait)}` : `${view.queued} tasks queued: ~${seconds(wait)} of work on ${slotsPlanned} slots`
    return { direction: "up", count, reason: `${what}; a node gets ready in ~${seconds(view.readySeconds)}` }
  }
  const removable = view.live - view.min
  if (removable <= 0) return undefined
  const idle = view.idle.filter((n) => n.seconds >= view.scaleDownAfter).sort((a, b) => b.seconds - a.seconds).slice(0, removable)
  if (idle.length === 0) return undefined
  return {
    direction: "down",
    nodes: idle.map((n) => n.node),
    reason: `idle for ${seconds(idle[idle.length - 1]!.seconds)} (scale down after ${seconds(view.scaleDownAfter)}), nothing queued`
  }
}
