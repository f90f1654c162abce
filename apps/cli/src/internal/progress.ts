import { formatBytes, type PoolEvent, type PoolEventListener } from "@skyward/contracts"
import cliProgress from "cli-progress"
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
  readonly stop: () => void
}

/** Where progress goes: stderr, or anything with its `write` and `isTTY` (a test's fake). */
export type ProgressStream = NodeJS.WritableStream & { readonly isTTY?: boolean; readonly columns?: number }

const SUMMARY_EVERY_MS = 2_000

const plural = (count: number, noun: string): string => `${count} ${noun}${count === 1 ? "" : "s"}`
const files = (count: number): string => plural(count, "file")

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
      return `node ${event.node}: ready (${plural(event.slots, "slot")})`
    case "NodeLost":
      return `node ${event.node}: LOST (${event.reason}); ${event.inFlight.length} task(s) re-queued`
    default:
      return undefined
  }
}

/**
 * Milliseconds without a task queued, while tasks finish, after which the pool's tasks are taken to
 * be all there is: joblib queues a new batch as soon as one finishes while it has more.
 */
const SETTLED_MS = 1_000

/**
 * Counts the script's tasks and reports done/queued with rate, and an ETA once the total means something.
 * A pool task counts as the calls it runs when the client says (the joblib bridge hands over one pool
 * task per joblib batch of one or more calls), else as one. The bridge hands them over only as slots
 * free up, so while the script keeps queueing, what is queued is not its whole workload: the line says
 * "queued so far" and shows no ETA. Once tasks finish and none was queued for {@link SETTLED_MS}, or
 * the run ended ({@link finish}), the total is taken as known and the ETA is shown.
 */
export class TaskCounter {
  queued = 0
  done = 0
  failed = 0
  private started = 0
  private lastQueuedAt = 0
  private finishedSinceQueued = 0
  private finished = false
  private cancelled = 0
  private readonly callsOf = new Map<number, number>()

  /** Counts a task event; false for any other event. */
  update(event: PoolEvent): boolean {
    if (event._tag === "TaskQueued") {
      const calls = event.calls ?? 1
      this.callsOf.set(event.task, calls)
      if (this.queued === 0) this.started = Date.now()
      this.queued += calls
      this.lastQueuedAt = Date.now()
      this.finishedSinceQueued = 0
    } else if (event._tag === "TaskDone" || event._tag === "TaskFailed") {
      const calls = this.callsOf.get(event.task) ?? 1
      this.callsOf.delete(event.task)
      // a cancelled task (the script's call aborted, or Ctrl-C reached the script first) did not fail: not shown
      if (event._tag === "TaskFailed" && event.cancelled === true) this.cancelled += calls
      else {
        if (event._tag === "TaskDone") this.done += calls
        else this.failed += calls
        this.finishedSinceQueued++
      }
    } else return false
    return true
  }

  /** The run is over: what was queued is the whole workload. */
  finish(): void {
    this.finished = true
  }

  /** Tasks done per second since the first was queued. */
  get rate(): number {
    return this.done / Math.max((Date.now() - this.started) / 1000, 1e-3)
  }

  /** True once tasks finished and none was queued for {@link SETTLED_MS}: the script queues no more for now. */
  get settled(): boolean {
    return this.finished || (this.finishedSinceQueued > 0 && Date.now() - this.lastQueuedAt >= SETTLED_MS)
  }

  /** Seconds until the queued tasks are done at the current rate: only once {@link settled}, some are done and some are left. */
  get eta(): number | undefined {
    const left = this.queued - this.done - this.failed - this.cancelled
    return this.settled && this.rate > 0 && left > 0 ? Math.ceil(left / this.rate) : undefined
  }

  /** `28 done, 1 failed of 36` once settled, else `28 done of 36 queued so far` */
  counts(): string {
    return `${this.done} done${this.failed ? `, ${this.failed} failed` : ""} of ${this.queued}${this.settled ? "" : " queued so far"}`
  }

  /** `tasks: 28 done, 1 failed of 36 (10.4/s, eta 1s)`, or `tasks: 28 done of 36 queued so far (10.4/s)` */
  summary(): string {
    const eta = this.eta === undefined ? "" : `, eta ${this.eta}s`
    return `tasks: ${this.counts()} (${this.rate.toFixed(1)}/s${eta})`
  }
}

const plainProgress = (write: (line: string) => void): Progress => {
  const counter = new TaskCounter()
  let bootstrapping = new Set<number>()
  let lastCounts = ""
  const report = () => {
    // once interrupted, what the pool's shutdown does to tasks is not news (see ./interruption.ts)
    if (interruption.signal !== undefined) return
    const counts = `${counter.done}/${counter.failed}/${counter.queued}/${counter.settled}`
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
      counter.finish()
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
      format: "tasks [{bar}] {done} done{failedText} / {total}{soFar} | {rate}/s{etaText}",
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
    soFar: counter.settled ? "" : " queued so far",
    rate: counter.rate.toFixed(1),
    etaText: counter.eta === undefined ? "" : ` | eta ${counter.eta}s`
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

/**
 * The reporter for a mode, writing to `stream` (stderr): JSON lines, only the notes, or the nodes' states
 * then the script's tasks done of queued with rate (and an ETA once no more are being queued), as a bar
 * (cli-progress) when the stream is a TTY and as plain lines (every 2 s while counts change, and once at
 * the end) when it is not.
 */
export const makeProgress = (mode: ProgressMode, stream: ProgressStream = process.stderr): Progress =>
  untilInterrupted(reporterFor(mode, stream), mode)
