import { formatBytes, type PoolEvent } from "@skyward/contracts"

/** `1 slot`, `2 slots` */
export const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`

const files = (count: number): string => plural(count, "file")

/** `note: node 1: Python 3.11.2, the client runs 3.11.7` */
export const noteLine = (message: string, node?: number): string => `note: ${node === undefined ? "" : `node ${node}: `}${message}`

const nodeList = (nodes: ReadonlyArray<number>): string => `${nodes.length === 1 ? "node" : "nodes"} ${nodes.join(", ")}`

/** `scaling up: adding nodes 2, 3 (400 tasks queued, ...); 4 nodes` */
const scaledLine = (event: Extract<PoolEvent, { readonly _tag: "PoolScaled" }>): string => {
  const verb = event.direction === "down" ? "scaling down: removing" : event.direction === "up" ? "scaling up: adding" : "replacing lost nodes: adding"
  return `${verb} ${nodeList(event.nodes)} (${event.reason}); ${plural(event.live, "node")}`
}

/** The line (without the `skyward: ` prefix) an event about a node says, if it says one. */
export const nodeLine = (event: PoolEvent): string | undefined => {
  switch (event._tag) {
    case "WorkdirShipped":
      return (
        `node ${event.node}: working directory ${files(event.files)}, ${formatBytes(event.bytes)} ` +
        `(${event.sentFiles === 0 ? "nothing new sent" : `sent ${files(event.sentFiles)}, ${formatBytes(event.sentBytes)}`})`
      )
    case "EnvironmentNote":
      return noteLine(event.message, event.node)
    case "NodeProvisioned":
      return `node ${event.node}: provisioned (${event.address})`
    case "NodeBootstrapped":
      return `node ${event.node}: bootstrapped in ${event.seconds.toFixed(1)}s${event.cached ? " (cached environment)" : ""}`
    case "NodeReady":
      return `node ${event.node}: ready (${plural(event.slots, "slot")})`
    case "NodeLost":
      return `node ${event.node}: LOST (${event.reason}); ${event.inFlight.length} task(s) re-queued`
    case "PoolScaled":
      return scaledLine(event)
    case "NodeAddFailed":
      return `node ${event.node}: could not be added (${event.reason}); trying again later`
    default:
      return undefined
  }
}

/**
 * What a `Log` event shows, whole: a task's output line as the joblib client prints it
 * (`[node 0] hello`), or an agent's own line (`skyward: node 0: ...`).
 */
export const outputLine = (event: Extract<PoolEvent, { readonly _tag: "Log" }>): string =>
  event.stream === "stdout" || event.stream === "stderr" ? `[node ${event.node}] ${event.line}` : `skyward: node ${event.node}: ${event.line}`
