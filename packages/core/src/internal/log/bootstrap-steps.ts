import type { PoolEvent } from "@skyward/contracts"

/** Milliseconds between two lines about the same node's bootstrap. */
export const STEP_EVERY_MS = 5_000

interface NodeSteps {
  readonly started: number
  latest: string
  said: string
  saidAt: number
  finished: boolean
}

/**
 * What nodes say while they bootstrap (an environment being built takes 10-20 s): the first step
 * of each node at once (`node 0: bootstrapping (creating virtual environment ...)`), then, through
 * {@link due}, the time so far every {@link STEP_EVERY_MS}, with its latest step when it changed
 * (`node 0: bootstrapping, 10s so far (Installing collected packages: scikit-learn)`).
 */
export class BootstrapSteps {
  private readonly nodes = new Map<number, NodeSteps>()

  /** Records a node event; the line for a node's first step, once. */
  update(event: PoolEvent): string | undefined {
    if (event._tag === "NodeBootstrapping") {
      const node = this.nodes.get(event.node)
      if (node !== undefined) {
        node.latest = event.line
        return undefined
      }
      const now = Date.now()
      this.nodes.set(event.node, { started: now, latest: event.line, said: event.line, saidAt: now, finished: false })
      return `node ${event.node}: bootstrapping (${event.line})`
    }
    if (event._tag === "NodeBootstrapped" || event._tag === "NodeReady" || event._tag === "NodeLost" || event._tag === "NodeAddFailed") {
      const node = this.nodes.get(event.node)
      if (node !== undefined) node.finished = true
    }
    return undefined
  }

  /** Lines for the nodes still bootstrapping whose last line is {@link STEP_EVERY_MS} old. */
  due(): string[] {
    const now = Date.now()
    const lines: string[] = []
    for (const [index, node] of this.nodes) {
      if (node.finished || now - node.saidAt < STEP_EVERY_MS) continue
      const step = node.latest === node.said ? "" : ` (${node.latest.trim()})`
      node.said = node.latest
      node.saidAt = now
      lines.push(`node ${index}: bootstrapping, ${Math.round((now - node.started) / 1000)}s so far${step}`)
    }
    return lines
  }
}
