import type { PoolEvent } from "@skyward/contracts"

/**
 * Milliseconds without a task queued, while tasks finish, after which the pool's tasks are taken to
 * be all there is: joblib queues a new batch as soon as one finishes while it has more.
 */
const SETTLED_MS = 1_000

/**
 * Counts the pool's tasks and reports done/queued with rate, and an ETA once the total means something.
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
  /** Each task still running: the client's calls it runs, and the joblib call they belong to. */
  private readonly running = new Map<number, { readonly calls: number; readonly call?: number }>()
  /** The joblib calls whose size the client said, by number, and each one's calls done. */
  private readonly sized = new Map<number, { readonly total: number; done: number }>()
  /** The joblib call of the latest task queued. */
  private current: number | undefined

  /** Counts a task event; false for any other event. */
  update(event: PoolEvent): boolean {
    if (event._tag === "TaskQueued") {
      const calls = event.calls ?? 1
      this.running.set(event.task, { calls, call: event.call })
      if (event.call !== undefined) {
        this.current = event.call
        if (event.callTotal !== undefined && !this.sized.has(event.call)) this.sized.set(event.call, { total: event.callTotal, done: 0 })
      }
      if (this.queued === 0) this.started = Date.now()
      this.queued += calls
      this.lastQueuedAt = Date.now()
      this.finishedSinceQueued = 0
    } else if (event._tag === "TaskDone" || event._tag === "TaskFailed") {
      const task = this.running.get(event.task)
      this.running.delete(event.task)
      const calls = task?.calls ?? 1
      const call = task?.call === undefined ? undefined : this.sized.get(task.call)
      if (call !== undefined && event._tag === "TaskDone") call.done += calls
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

  /**
   * The latest joblib call's own count, when the client said its size (its input had a length):
   * `call 3: 8 done of 40` while it runs, with an ETA at the pool's rate (`, eta 4s`) unless the
   * pool's ETA is shown already; empty otherwise.
   */
  currentCall(): string {
    const call = this.sized.get(this.current ?? 0)
    if (call === undefined || call.done >= call.total) return ""
    const left = Math.ceil((call.total - call.done) / this.rate)
    const eta = this.eta === undefined && this.done > 0 && Number.isFinite(left) ? `, eta ${left}s` : ""
    return `call ${this.current}: ${call.done} done of ${call.total}${eta}`
  }

  /**
   * `tasks: 28 done, 1 failed of 36 (10.4/s, eta 1s)`, or `tasks: 28 done of 36 queued so far (10.4/s)`,
   * then `; ` and {@link currentCall} when it says something.
   */
  summary(): string {
    const eta = this.eta === undefined ? "" : `, eta ${this.eta}s`
    const call = this.currentCall()
    return `tasks: ${this.counts()} (${this.rate.toFixed(1)}/s${eta})${call ? `; ${call}` : ""}`
  }
}
