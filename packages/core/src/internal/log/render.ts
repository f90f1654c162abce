import type { PoolEventListener, PoolLogStream } from "@skyward/contracts"
import cliProgress from "cli-progress"
import { BootstrapSteps } from "./bootstrap-steps.js"
import { nodeLine, noteLine, outputLine } from "./lines.js"
import { TaskCounter } from "./task-counter.js"

/**
 * A pool's log as `skyward run` shows it: the pool's event listener, lines of the caller's own, and a
 * `stop` that writes the last task line and ends the bar.
 */
export interface PoolLog {
  /** Give it every event of the pool (`makeComputePool(options, log.listener)`, `pool.subscribe`). */
  readonly listener: PoolEventListener
  /** A line of the caller's, `skyward: ` first (e.g. something that takes time before the pool opens). */
  readonly line: (text: string) => void
  /** A note of the caller's on how the workers differ from the client: `skyward: note: ...`. */
  readonly note: (text: string) => void
  /** The run is over: stops the timer and the bar, writes the last task line. */
  readonly stop: () => void
}

/** How {@link makePoolLog} renders. */
export interface PoolLogOptions {
  /**
   * Show what tasks print (`[node 0] hello`, their warnings included) and the agents' own lines
   * (default true). Output a task's submitter shows itself (`forwarded`: the joblib bridge's tasks,
   * printed by the client script) is left out anyway. `skyward run` sets it false.
   */
  readonly taskOutput?: boolean
  /**
   * While a node bootstraps, say every 5 s how long it has been at it, with its latest step when it
   * changed (default true; on a terminal too): `node 0: bootstrapping, 10s so far (Collecting six)`.
   * When false, only the first step is said, and only when the stream is not a terminal (`skyward run`).
   */
  readonly bootstrapSteps?: boolean
  /** While it returns true, no task line is written (`skyward run`: once Ctrl-C stopped the run). */
  readonly muted?: () => boolean
}

const SUMMARY_EVERY_MS = 2_000
const STEPS_CHECKED_EVERY_MS = 1_000

/** Says the nodes' bootstrap steps as they become due, until the returned function is called. */
const sayStepsWhenDue = (steps: BootstrapSteps, say: (line: string) => void, options: PoolLogOptions): (() => void) => {
  if (options.bootstrapSteps === false) return () => undefined
  const timer = setInterval(() => steps.due().forEach(say), STEPS_CHECKED_EVERY_MS)
  timer.unref()
  return () => clearInterval(timer)
}

const plainLog = (write: (line: string) => void, raw: (text: string) => void, options: PoolLogOptions): PoolLog => {
  const counter = new TaskCounter()
  const steps = new BootstrapSteps()
  const stopSteps = sayStepsWhenDue(steps, write, options)
  let lastCounts = ""
  const report = () => {
    if (options.muted?.() === true) return
    const counts = `${counter.done}/${counter.failed}/${counter.queued}/${counter.settled}/${counter.currentCall()}`
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
      if (event._tag === "Log") {
        if (options.taskOutput !== false && event.forwarded !== true) raw(`${outputLine(event)}\n`)
        return
      }
      const step = steps.update(event)
      if (step) write(step)
      const line = nodeLine(event)
      if (line) write(line)
    },
    stop: () => {
      clearInterval(timer)
      stopSteps()
      counter.finish()
      report()
    }
  }
}

const barLog = (stream: PoolLogStream, write: (line: string) => void, raw: (text: string) => void, options: PoolLogOptions): PoolLog => {
  const counter = new TaskCounter()
  const bar = new cliProgress.SingleBar(
    {
      // only a terminal gets here: cli-progress drives it with escape sequences written to it
      stream: stream as NodeJS.WritableStream,
      // the rate and ETA are the counter's (as in plain lines): cli-progress's own ETA shows NULL or INF at first
      format: "tasks [{bar}] {done} done{failedText} / {total}{soFar} | {rate}/s{etaText}{callText}",
      barsize: 20,
      hideCursor: true,
      clearOnComplete: false
    },
    cliProgress.Presets.shades_classic
  )
  let barStarted = false
  const above = (show: () => void) => {
    if (barStarted) bar.stop()
    show()
    barStarted = false
  }
  const say = (line: string) => above(() => write(line))
  const steps = new BootstrapSteps()
  const stopSteps = sayStepsWhenDue(steps, say, options)
  const payload = () => {
    const call = counter.currentCall()
    return {
      done: counter.done,
      failedText: counter.failed ? `, ${counter.failed} failed` : "",
      soFar: counter.settled ? "" : " queued so far",
      rate: counter.rate.toFixed(1),
      etaText: counter.eta === undefined ? "" : ` | eta ${counter.eta}s`,
      callText: call ? ` | ${call}` : ""
    }
  }
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
      if (event._tag === "Log") {
        if (options.taskOutput !== false && event.forwarded !== true) above(() => raw(`${outputLine(event)}\n`))
        return
      }
      const step = steps.update(event)
      if (step && options.bootstrapSteps !== false) say(step)
      const line = nodeLine(event)
      if (line) say(line)
    },
    line: say,
    note: (text) => say(noteLine(text)),
    stop: () => {
      stopSteps()
      if (barStarted) bar.stop()
    }
  }
}

/**
 * Renders a pool's events on `stream` as `skyward run` does on stderr: each node provisioned,
 * bootstrapping (how long so far every 5 s while an environment is built), bootstrapped and ready (or
 * lost), what tasks print, then tasks done of queued with
 * rate (and an ETA once no more are being queued). On a terminal (`stream.isTTY`) the task line is a
 * bar redrawn in place (cli-progress); otherwise it is a plain line every 2 s while the counts change,
 * and once at the end, with no carriage returns or escape sequences.
 */
export const makePoolLog = (stream: PoolLogStream, options: PoolLogOptions = {}): PoolLog => {
  const raw = (text: string) => void stream.write(text)
  const write = (line: string) => raw(`skyward: ${line}\n`)
  return stream.isTTY === true ? barLog(stream, write, raw, options) : plainLog(write, raw, options)
}
