import { formatBytes, type PoolEvent, type PoolEventListener } from "@skyward/contracts"
import cliProgress from "cli-progress"

/** How `skyward run` reports progress on stderr. */
export type ProgressMode = "auto" | "json" | "quiet"

/** A progress reporter: the pool's event listener, what the CLI says itself, and a `stop` that flushes it. */
export interface Progress {
  readonly listener: PoolEventListener | undefined
  /** Something that takes time before the pool opens (a wheel being built): shown unless quiet. */
  readonly line: (text: string) => void
  /** How the workers differ from the client: shown even when quiet. */
  readonly note: (text: string) => void
  readonly stop: () => void
}

/** Where progress goes: stderr, or anything with its `write` and `isTTY` (a test's fake). */
export type ProgressStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number }

const SUMMARY_EVERY_MS = 2_000

const files = (count: number): string => `${count} file${count === 1 ? "" : "s"}`

/** `note: node 1: Python 3.11.2, the client runs 3.11.7` */
const noteLine = (message: string, node?: number): string => `note: ${node === undefined ? "" : `node ${node}: `}${message}`

const nodeLine = (event: PoolEvent): string | undefined => {
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
      return `node ${event.node}: ready (${event.slots} slots)`
    case "NodeLost":
      return `node ${event.node}: LOST (${event.reason}); ${event.inFlight.length} task(s) re-queued`
    default:
      return undefined
  }
}

/**
 * Counts the pool's tasks and reports done/queued with rate and ETA. These are tasks as the pool
 * sees them: the joblib bridge hands over one task per joblib batch (one or more calls), and only
 * as slots free up, so the total is what has been queued so far, not the script's whole workload.
 */
class TaskCounter {
  queued = 0
  done = 0
  failed = 0
  private started = 0

  /** Counts a task event; false for any other event. */
  update(event: PoolEvent): boolean {
    if (event._tag === "TaskQueued") {
      if (this.queued++ === 0) this.started = Date.now()
    } else if (event._tag === "TaskDone") this.done++
    else if (event._tag === "TaskFailed") this.failed++
    else return false
    return true
  }

  /** Tasks done per second since the first was queued. */
  get rate(): number {
    return this.done / Math.max((Date.now() - this.started) / 1000, 1e-3)
  }

  /** Seconds until the tasks queued so far are done at the current rate (undefined before the first is done). */
  get eta(): number | undefined {
    return this.rate > 0 ? Math.ceil((this.queued - this.done - this.failed) / this.rate) : undefined
  }

  /** `pool tasks: 28 done, 1 failed of 36 queued (10.4/s, eta 1s)` */
  summary(): string {
    const eta = this.eta === undefined ? "" : `, eta ${this.eta}s`
    return `pool tasks: ${this.done} done${this.failed ? `, ${this.failed} failed` : ""} of ${this.queued} queued (${this.rate.toFixed(1)}/s${eta})`
  }
}

const plainProgress = (write: (line: string) => void): Progress => {
  const counter = new TaskCounter()
  let bootstrapping = new Set<number>()
  let lastCounts = ""
  const report = () => {
    const counts = `${counter.done}/${counter.failed}/${counter.queued}`
    if (counter.queued > 0 && counts !== lastCounts) {
      lastCounts = counts
      write(counter.summary())
    }
  }
  const timer = setInterval(report, SUMMARY_EVERY_MS)
  timer.unref()
  return {
    line: write,
    note: (text) => write(noteLine(text)),
    listener: (event) => {
      if (counter.update(event)) return
      if (event._tag === "NodeBootstrapping" && !bootstrapping.has(event.node)) {
        bootstrapping = new Set([...bootstrapping, event.node])
        write(`node ${event.node}: bootstrapping (${event.line})`)
      }
      const line = nodeLine(event)
      if (line) write(line)
    },
    stop: () => {
      clearInterval(timer)
      report()
    }
  }
}

const barProgress = (stream: NodeJS.WritableStream, write: (line: string) => void): Progress => {
  const counter = new TaskCounter()
  const bar = new cliProgress.SingleBar(
    {
      stream,
      // the rate and ETA are the counter's (as in plain lines): cli-progress's own ETA shows NULL or INF at first
      format: "pool tasks [{bar}] {done} done{failedText} / {total} queued | {rate}/s | eta {etaText}",
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false
    },
    cliProgress.Presets.shades_classic
  )
  let barStarted = false
  const say = (line: string) => {
    if (barStarted) bar.stop()
    write(line)
    barStarted = false
  }
  const payload = () => ({
    done: counter.done,
    failedText: counter.failed ? `, ${counter.failed} failed` : "",
    rate: counter.rate.toFixed(1),
    etaText: counter.eta === undefined ? "?" : `${counter.eta}s`
  })
  return {
    listener: (event) => {
      if (counter.update(event)) {
        if (!barStarted) {
          bar.start(counter.queued, counter.done + counter.failed, payload())
          barStarted = true
        }
        bar.setTotal(counter.queued)
        bar.update(counter.done + counter.failed, payload())
        return
      }
      const line = nodeLine(event)
      if (line) say(line)
    },
    line: say,
    note: (text) => say(noteLine(text)),
    stop: () => {
      if (barStarted) bar.stop()
    }
  }
}

/**
 * The reporter for a mode, writing to `stream` (stderr): JSON lines, only the notes, or the nodes' states
 * then the pool's tasks done of queued with rate and ETA, as a bar (cli-progress) when the stream is
 * a TTY and as plain lines (every 2 s while counts change, and once at the end) when it is not.
 */
export const makeProgress = (mode: ProgressMode, stream: ProgressStream = process.stderr): Progress => {
  const write = (line: string) => void stream.write(`skyward: ${line}\n`)
  switch (mode) {
    case "quiet":
      return {
        listener: (event) => void (event._tag === "EnvironmentNote" && write(noteLine(event.message, event.node))),
        line: () => undefined,
        note: (text) => write(noteLine(text)),
        stop: () => undefined
      }
    case "json": {
      const json = (event: object) => void stream.write(JSON.stringify(event) + "\n")
      return { listener: json, line: () => undefined, note: (message) => json({ _tag: "EnvironmentNote", message }), stop: () => undefined }
    }
    default:
      return stream.isTTY ? barProgress(stream, write) : plainProgress(write)
  }
}
