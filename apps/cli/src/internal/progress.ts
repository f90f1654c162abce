import { makePoolLog, type PoolLogStream } from "@skyward/core"
import { formatBytes, type PoolEventListener } from "@skyward/contracts"
import { interruption, trackNodes } from "./interruption.js"

/** How `skyward run` reports progress on stderr. */
export type ProgressMode = "auto" | "json" | "quiet"

/** A progress reporter: the pool's event listener, what the CLI says itself, and a `stop` that flushes it. */
export interface Progress {
  readonly listener: PoolEventListener | undefined
  /** Something that takes time before the pool opens (a wheel being built): shown unless quiet. */
  readonly line: (text: string) => void
  /** How the workers differ from the client: shown even when quiet. */
  readonly note: (text: string) => void
  /** What a run cost (`text` for people, `fields` as JSON): shown even when quiet. */
  readonly cost: (text: string, fields: object) => void
  /** What crossed between this machine and the nodes in the run: shown unless quiet. */
  readonly traffic: (traffic: { readonly sentBytes: number; readonly receivedBytes: number }) => void
  readonly stop: () => void
}

/** `traffic: 1.2 MiB sent to the nodes, 40.0 KiB received` */
const trafficLine = (traffic: { readonly sentBytes: number; readonly receivedBytes: number }): string =>
  `traffic: ${formatBytes(traffic.sentBytes)} sent to the nodes, ${formatBytes(traffic.receivedBytes)} received (what nodes fetch themselves, such as S3 volumes, is not counted)`

/** Where progress goes: stderr, or anything with its `write` and `isTTY` (a test's fake). */
export type ProgressStream = PoolLogStream

/** `note: node 1: Python 3.11.2, the client runs 3.11.7` */
const noteLine = (message: string, node?: number): string => `note: ${node === undefined ? "" : `node ${node}: `}${message}`

/**
 * Records the nodes for the line a Ctrl-C prints, and drops the pool's events once the run was
 * interrupted (its nodes lost, its tasks failed: the shutdown's doing, not news), except as JSON.
 */
const untilInterrupted = (progress: Progress, mode: ProgressMode): Progress => ({
  ...progress,
  listener: (event) => {
    trackNodes(event)
    if (mode !== "json" && interruption.signal !== undefined) return
    progress.listener?.(event)
  }
})

const reporterFor = (mode: ProgressMode, stream: ProgressStream): Progress => {
  const write = (line: string) => void stream.write(`skyward: ${line}\n`)
  switch (mode) {
    case "quiet":
      return {
        listener: (event) => void (event._tag === "EnvironmentNote" && write(noteLine(event.message, event.node))),
        line: () => undefined,
        note: (text) => write(noteLine(text)),
        cost: (text) => write(text),
        traffic: () => undefined,
        stop: () => undefined
      }
    case "json": {
      const json = (event: object) => void stream.write(JSON.stringify(event) + "\n")
      // every event but the nodes' load, which comes with each heartbeat of each node (about once a second)
      const listener: PoolEventListener = (event) => void (event._tag !== "NodeStats" && json(event))
      return {
        listener,
        line: () => undefined,
        note: (message) => json({ _tag: "EnvironmentNote", message }),
        cost: (_, fields) => json({ _tag: "RunCost", ...fields }),
        traffic: (traffic) => json({ _tag: "RunTraffic", ...traffic }),
        stop: () => undefined
      }
    }
    default:
      // the pool's log as every ComputePool writes it, less the tasks' output: the script prints that itself
      return {
        ...makePoolLog(stream, { taskOutput: false, bootstrapSteps: false, muted: () => interruption.signal !== undefined }),
        cost: (text) => write(text),
        traffic: (traffic) => write(trafficLine(traffic))
      }
  }
}

/**
 * The reporter for a mode, writing to `stream` (stderr): JSON lines, only the notes, or the pool's
 * log (`makePoolLog` of @skyward/core: the nodes' states then the script's tasks done of queued, as a
 * bar on a terminal and as plain lines otherwise).
 */
export const makeProgress = (mode: ProgressMode, stream: ProgressStream = process.stderr): Progress =>
  untilInterrupted(reporterFor(mode, stream), mode)
