import type { Volume } from "./volume.js"

/** One provisioned machine of the pool. */
export interface NodeInfo {
  /** 0..nodes-1 for the nodes a pool opens with, then counting on for nodes added later; the agent's `SKYWARD_NODE_INDEX`. */
  readonly index: number
  /** Where the node is reached: a hostname or IP, or "localhost". */
  readonly address: string
  /**
   * CPUs this node's slots share for their BLAS / OpenMP threads, when the node has only part of its
   * machine (the local provider's nodes share one). Omitted: every CPU of the machine.
   */
  readonly cpus?: number
  /** What the node costs while it runs, when its provider knows (EC2 instances). */
  readonly price?: NodePrice
  /** Provider-specific facts (instance id, SSH port and user, ...). */
  readonly data: Readonly<Record<string, unknown>>
}

/** A node's price: USD per hour, and where the figure comes from. */
export interface NodePrice {
  readonly usdPerHour: number
  /** Such as `spot price in us-east-1a at launch` or `on-demand price list of 2026-11-30`. */
  readonly source: string
}

/** What `nodes` cost together per hour, when every one has a price (EC2's do); undefined otherwise. */
export const nodesPrice = (nodes: ReadonlyArray<NodeInfo>): NodePrice | undefined => {
  const prices = nodes.map((n) => n.price)
  if (nodes.length === 0 || !prices.every((p): p is NodePrice => p !== undefined)) return undefined
  return { usdPerHour: prices.reduce((sum, p) => sum + p.usdPerHour, 0), source: [...new Set(prices.map((p) => p.source))].join("; ") }
}

/** The machines of one pool. */
export interface Cluster {
  /** Unique per pool, used to tag remote resources. */
  readonly id: string
  /** Name of the provider that made it ("local", "ssh", "aws"). */
  readonly provider: string
  /** Its nodes: those it opened with, and, in an elastic pool, those it has now. */
  readonly nodes: ReadonlyArray<NodeInfo>
}

/** What plugins and providers know before machines exist. */
export interface ClusterSpec {
  readonly id: string
  readonly provider: string
  /** Nodes the pool opens with (an elastic pool's `min`). */
  readonly nodes: number
  /** The most nodes it may have at once (`nodes` unless the pool is elastic). */
  readonly maxNodes: number
  /** Slots per node, when the user set it (else each node uses its CPU count). */
  readonly concurrency: number | undefined
  readonly executor: "process" | "thread"
  /** The pool's volumes (an EC2 provider may give its nodes a role that reads their S3 sources). */
  readonly volumes: ReadonlyArray<Volume>
}

/**
 * What a pool has cost while its price changed (an elastic pool's nodes come and go): each price
 * for as long as it held. Times in ms since the epoch.
 */
export class CostMeter {
  private counted = 0
  private since: number
  private usdPerHour: number | undefined

  constructor(since: number, usdPerHour: number | undefined) {
    this.since = since
    this.usdPerHour = usdPerHour
  }

  /** The pool costs `usdPerHour` from `now` on (undefined: unknown, counted as nothing). */
  price(now: number, usdPerHour: number | undefined): void {
    this.counted = this.total(now)
    this.since = now
    this.usdPerHour = usdPerHour
  }

  /** USD from the start until `now`. */
  total(now: number): number {
    return this.counted + ((this.usdPerHour ?? 0) * Math.max(0, now - this.since)) / 3_600_000
  }
}
