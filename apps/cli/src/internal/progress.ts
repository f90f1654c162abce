import type { PoolEvent, PoolEventListener } from "@skyward/core"
import cliProgress from "cli-progress"

/** How `skyward run` reports progress on stderr. */
export type ProgressMode = "auto" | "json" | "quiet"

/** A progress reporter: the pool's event listener (none when quiet, so the pool builds no events) and a `stop` that flushes it. */
export interface Progress {
  readonly listener: PoolEventListener | undefined
  readonly stop: () => void
}

const SUMMARY_EVERY_MS = 2_000

const nodeLine = (event: PoolEvent): string | undefined => {
  switch (event._tag) {
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

/** Counts tasks and reports done/total with rate and ETA. */
class TaskCounter {
  total = 0
  done = 0
  failed = 0
  private started = 0

  update(event: PoolEvent): boolean {
    if (event._tag === "TaskQueued") {
      if (this.total++ === 0) this.started = Date.now()
    }
    else if (event._tag === "TaskDone") this.done++
    else if (event._tag === "TaskFailed") this.failed++
    else return false
    return true
  }

  get rate(): number {
    return this.done / Math.max((Date.now() - this.started) / 1000, 1e-3)
  }

  summary(): string {
    const left = this.total - this.done - this.failed
    const eta = this.rate > 0 ? `, eta ${Math.ceil(left / this.rate)}s` : ""
    return `tasks ${this.done}/${this.total} done${this.failed ? `, ${this.failed} failed` : ""} (${this.rate.toFixed(1)}/s${eta})`
  }
}

const plainProgress = (write: (line: string) => void): Progress => {
  const counter = new TaskCounter()
  let bootstrapping = new Set<number>()
  let lastCounts = ""
  const report = () => {
    const counts = `${counter.done}/${counter.failed}/${counter.total}`
    if (counter.total > 0 && counts !== lastCounts) {
      lastCounts = counts
      write(counter.summary())
    }
  }
  const timer = setInterval(report, SUMMARY_EVERY_MS)
  timer.unref()
  return {
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

const barProgress = (write: (line: string) => void): Progress => {
  const counter = new TaskCounter()
  const bar = new cliProgress.SingleBar(
    { stream: process.stderr, format: "tasks [{bar}] {value}/{total} | {rate}/s | eta {eta}s", hideCursor: true, clearOnComplete: false },
    cliProgress.Presets.shades_classic
  )
  let barStarted = false
  return {
    listener: (event) => {
      if (counter.update(event)) {
        if (!barStarted) {
          bar.start(counter.total, 0, { rate: "0.0" })
          barStarted = true
        }
        bar.setTotal(counter.total)
        bar.update(counter.done + counter.failed, { rate: counter.rate.toFixed(1) })
        return
      }
      const line = nodeLine(event)
      if (line) {
        if (barStarted) bar.stop()
        write(line)
        barStarted = false
      }
    },
    stop: () => {
      if (barStarted) bar.stop()
    }
  }
}

/** The reporter for a mode: JSON lines, nothing, a bar on a TTY, plain lines otherwise. */
export const makeProgress = (mode: ProgressMode, stream: NodeJS.WriteStream = process.stderr): Progress => {
  const write = (line: string) => void stream.write(`skyward: ${line}\n`)
  switch (mode) {
    case "quiet":
      return { listener: undefined, stop: () => undefined }
    case "json":
      return { listener: (event) => void stream.write(JSON.stringify(event) + "\n"), stop: () => undefined }
    default:
      return stream.isTTY ? barProgress(write) : plainProgress(write)
  }
}
