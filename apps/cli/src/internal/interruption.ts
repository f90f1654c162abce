import type { PoolEvent } from "@skyward/contracts"

/**
 * What a Ctrl-C (SIGINT, or SIGTERM) stops, for the one line `skyward` prints about it: the signal
 * once one came, and the nodes the pool made, with their task slots once ready. While the pool then
 * shuts down, its events (nodes lost, tasks failed) are its own doing, not news: progress drops them.
 */
export interface Interruption {
  /** The signal that interrupted the run; undefined while nobody did. */
  signal: NodeJS.Signals | undefined
  /** Each node the pool provisioned, with its task slots once it was ready (undefined before). */
  readonly nodes: Map<number, number | undefined>
}

/** The run's interruption (one per process, as `skyward` runs one command). */
export const interruption: Interruption = { signal: undefined, nodes: new Map() }

/** Records the nodes an event tells of (provisioned, ready) for {@link interruptedLine}. */
export const trackNodes = (event: PoolEvent): void => {
  if (event._tag === "NodeProvisioned" && !interruption.nodes.has(event.node)) interruption.nodes.set(event.node, undefined)
  else if (event._tag === "NodeReady") interruption.nodes.set(event.node, event.slots)
}

const count = (n: number, noun: string): string => `${n} ${noun}${n === 1 ? "" : "s"}`

/**
 * The one line a user's Ctrl-C prints once everything is stopped, e.g.
 * `interrupted; stopped 2 nodes (4 task slots), removed their temporary folders`; the slots are
 * counted when every node was ready. `failure` says what went wrong while stopping, if anything did.
 */
export const interruptedLine = (nodes: ReadonlyMap<number, number | undefined> = interruption.nodes, failure?: string): string => {
  const slots = [...nodes.values()]
  const ready = slots.every((n) => n !== undefined)
  const what =
    nodes.size === 0
      ? ""
      : `; stopped ${count(nodes.size, "node")}${ready ? ` (${count(slots.reduce<number>((a, n) => a + (n ?? 0), 0), "task slot")})` : ""}` +
        ", removed their temporary folders"
  return failure === undefined ? `interrupted${what}` : `interrupted; while stopping: ${failure}`
}
