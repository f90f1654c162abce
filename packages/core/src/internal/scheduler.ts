import { type ErrorFrame, errorTexts } from "@skyward/codec"
import {
  RemoteError,
  SerializationError,
  TaskCancelled,
  TaskTimeout,
  WorkerLost,
  type PoolEvent,
  type TaskCallbacks,
  type TaskError,
  type TaskOutcome,
  type TaskSpec
} from "@skyward/contracts"
import type { EventHub } from "./event-hub.js"
import { FairQueue } from "./fair-queue.js"
import { NodeHeap, type HeapNode } from "./node-heap.js"

/** The scheduler's view of a node: where to send submits and cancels. */
export interface NodeLink {
  readonly index: number
  readonly capacity: number
  readonly sendSubmit: (id: number, spec: TaskSpec) => void
  readonly sendCancel: (id: number) => void
  /** Asks for a task back if it has not started; the agent answers `cancelled`, or runs it as usual. */
  readonly sendWithdraw?: (id: number) => void
  /** True when the node holds every blob of `hashes` already. */
  readonly holds?: (hashes: ReadonlyArray<string>) => boolean
  /** The node dropped blobs it held: they are sent again when needed. */
  readonly forgetBlobs?: () => void
}

/** How often a task goes back to the queue because its node no longer held its blobs. */
const MAX_BLOB_RESENDS = 3

/**
 * Tasks a node may hold beyond its slots, so its agent starts the next one the moment a slot frees,
 * without a round trip through Node: one per slot while one client has work (equal tasks finish in
 * waves, so every slot of a node frees at once), and while tasks are short. With several clients and
 * long tasks the only node of a pool holds one and several nodes hold none (plus what covers their
 * round trip), so that a client arriving gets the next free slots; what nodes hold beyond that is
 * asked back when it arrives. With several nodes the last queued tasks (no more than there are nodes)
 * are never held, a held task is asked back when another node has a free slot and nothing is queued,
 * and a node that cannot give tasks back holds none.
 */
const HELD_BY_ONLY_NODE = 1

/**
 * A node far away (SSH over a real network) also holds what its slots finish during one round trip
 * (slots x round trip / run time), so a freed slot starts the next task at once instead of waiting for
 * the answer to reach Node and the next task to come back. Below this many completions per round trip
 * (each slot idles under ~1% of a task per round trip on 8 slots) holding is not worth a stranded task.
 */
const MIN_COMPLETIONS_PER_ROUND_TRIP = 0.1

/** At most this many tasks per slot are held to cover a round trip (very long round trips, very short tasks). */
const MAX_HELD_PER_SLOT = 4

/**
 * A node's round trip is the least of its last this many samples: a slot process still starting, or a
 * busy moment of the client, delays one task's start without the network being any slower.
 */
const ROUND_TRIP_SAMPLES = 16

/** Only tasks this small time a round trip: a larger payload (or a blob sent first) measures the bandwidth. */
const ROUND_TRIP_PROBE_BYTES = 64 * 1024

/** Below this run time on a slot (smoothed over the last tasks) tasks count as short. */
const SHORT_TASK_SECONDS = 0.025

/** Weight of the newest task in the smoothed run time. */
const RUN_TIME_SMOOTHING = 0.2

const enum State {
  Queued,
  Running,
  /** Callbacks fired (timeout, cancel) but the agent has not answered yet: the slot stays taken. */
  Settled,
  Done
}

interface TaskRecord {
  readonly id: number
  readonly spec: TaskSpec
  readonly callbacks: TaskCallbacks
  state: State
  attempts: number
  blobResends: number
  /** The agent reported it on a slot (a task can wait in the agent's queue before that). */
  started: boolean
  /** Asked back from its node (`sendWithdraw`), not answered yet. */
  withdrawing: boolean
  /** When it was sent to a node with a free slot (ms, `now`): its start then times the node's round trip. */
  sentToFreeSlotAt: number | undefined
  node: NodeState | undefined
  timer: ReturnType<typeof setTimeout> | undefined
}

class NodeState implements HeapNode {
  load: number
  heapPos = -1
  alive = true
  /** Seconds from sending a task to a free slot until the agent said it started: the last samples, oldest overwritten. */
  private readonly roundTrips: number[] = []
  private nextRoundTrip = 0
  /** The node's round trip (see ROUND_TRIP_SAMPLES); 0 until measured. */
  roundTrip = 0
  /** Slots that started a task: a slot's first start also waits for its process to come up, so it times nothing. */
  private readonly slotsStarted = new Set<number>()
  readonly inFlight = new Map<number, TaskRecord>()
  /** When its last task ended (ms, `now`); undefined while it has one. */
  idleSince: number | undefined
  constructor(
    readonly link: NodeLink,
    now: number
  ) {
    this.load = -link.capacity
    this.idleSince = now
  }
  get index(): number {
    return this.link.index
  }

  /** A task sent to a free slot started on `slot` after `seconds`. */
  recordRoundTrip(slot: number, seconds: number): void {
    if (!this.slotsStarted.has(slot)) {
      this.slotsStarted.add(slot)
      return
    }
    this.roundTrips[this.nextRoundTrip] = seconds
    this.nextRoundTrip = (this.nextRoundTrip + 1) % ROUND_TRIP_SAMPLES
    this.roundTrip = Math.min(...this.roundTrips)
  }
}

/** Scheduler settings taken from the pool options. */
export interface SchedulerOptions {
  /** Default per-task timeout in seconds. */
  readonly timeout?: number
  /** How often a task whose worker was lost runs again. */
  readonly retries: number
  readonly events: EventHub
  /** Milliseconds on a monotonic clock (tests pass their own); `performance.now` by default. */
  readonly now?: () => number
}

/**
 * Puts tasks onto free slots, least-loaded node first; tracks what each node holds so a lost node's
 * tasks run again elsewhere (bounded), enforces timeouts and cancels. The clients of a pool
 * (`TaskSpec.client`) share its slots fairly (see FairQueue). Plain callbacks, no Effect on the hot
 * path: it has to keep up with hundreds of thousands of tasks per second.
 */
export class Scheduler {
  private readonly queue = new FairQueue<TaskRecord>((record) => record.spec.client)
  private readonly tasks = new Map<number, TaskRecord>()
  private readonly nodes = new Map<number, NodeState>()
  private readonly ready = new NodeHeap<NodeState>()
  private nextId = 1
  /** Tasks held by agents beyond their slots (the sum of the positive loads). */
  private overbooked = 0
  /** The nodes holding tasks beyond their slots (load > 0). */
  private readonly holders = new Set<NodeState>()
  /** Withdrawals sent and not answered yet. */
  private withdrawals = 0
  private closedReason: string | undefined
  /** Run time on a slot of the tasks finished lately (smoothed); unknown (long) before the first. */
  private recentRunSeconds = Infinity
  private readonly now: () => number

  constructor(private readonly options: SchedulerOptions) {
    this.now = options.now ?? (() => performance.now())
  }

  /** Slots of the nodes that are alive now. */
  get totalSlots(): number {
    let slots = 0
    for (const node of this.nodes.values()) if (node.alive) slots += node.link.capacity
    return slots
  }

  /** Tasks waiting for a slot. */
  get queued(): number {
    return this.queue.length
  }

  /** Tasks submitted and not yet answered. */
  get pending(): number {
    return this.tasks.size
  }

  /** A task's run time on a slot, smoothed over the last tasks; undefined before one ended. */
  get taskSeconds(): number | undefined {
    return this.recentRunSeconds === Infinity ? undefined : this.recentRunSeconds
  }

  /** Nodes alive now, by index. */
  get liveNodes(): number[] {
    return [...this.nodes.values()].filter((node) => node.alive).map((node) => node.index)
  }

  /** Seconds `nodeIndex` has had no task (0 while it has one, or is gone). */
  idleSeconds(nodeIndex: number): number {
    const node = this.nodes.get(nodeIndex)
    return node?.alive && node.idleSince !== undefined ? (this.now() - node.idleSince) / 1000 : 0
  }

  /**
   * Takes `nodeIndex` out of the pool if it has no task (running, held or on its way); true if it
   * did. An elastic pool removes only such nodes, so none of its tasks is lost or run twice.
   */
  retire(nodeIndex: number): boolean {
    const node = this.nodes.get(nodeIndex)
    if (node === undefined || !node.alive || node.inFlight.size > 0) return false
    node.alive = false
    this.ready.remove(node)
    this.holders.delete(node)
    return true
  }

  addNode(link: NodeLink): void {
    const node = new NodeState(link, this.now())
    this.nodes.set(link.index, node)
    this.ready.insert(node)
    this.pump()
  }

  /** Queues a task; returns its id (for `cancel`). */
  submit(spec: TaskSpec, callbacks: TaskCallbacks): number {
    const id = this.nextId++
    const record: TaskRecord = {
      id,
      spec,
      callbacks,
      state: State.Queued,
      attempts: 0,
      blobResends: 0,
      started: false,
      withdrawing: false,
      sentToFreeSlotAt: undefined,
      node: undefined,
      timer: undefined
    }
    if (this.closedReason !== undefined) {
      callbacks.onFailed(new TaskCancelled({ reason: this.closedReason }))
      return id
    }
    this.tasks.set(id, record)
    if (this.options.events.active) {
      const { calls, call, callTotal, client } = spec
      this.options.events.emit({ _tag: "TaskQueued", task: id, calls, call, callTotal, client })
    }
    const clients = this.queue.clientCount
    this.queue.push(record)
    if (clients > 0 && this.queue.clientCount > clients) this.askBackExcess()
    this.pump()
    return id
  }

  /** Cancels a queued or running task; its callbacks get `TaskCancelled`. */
  cancel(id: number, reason = "by the caller"): void {
    const record = this.tasks.get(id)
    if (record === undefined || record.state === State.Settled || record.state === State.Done) return
    if (record.state === State.Running) record.node?.link.sendCancel(id)
    this.settle(record, new TaskCancelled({ reason }))
  }

  /** The agent began running a task. */
  started(nodeIndex: number, id: number, slot: number): void {
    const record = this.tasks.get(id)
    if (record === undefined || record.node?.index !== nodeIndex) return
    record.started = true
    this.endWithdrawal(record) // too late: it runs where it is
    if (record.sentToFreeSlotAt !== undefined) {
      record.node.recordRoundTrip(slot, (this.now() - record.sentToFreeSlotAt) / 1000)
      record.sentToFreeSlotAt = undefined
    }
    if (this.options.events.active) this.options.events.emit({ _tag: "TaskStarted", task: id, node: nodeIndex, slot })
    // the clock starts on the slot, not in the agent's queue (a prefetched task may wait there)
    const timeout = record.spec.timeout ?? this.options.timeout
    if (timeout !== undefined && record.state === State.Running && record.timer === undefined)
      record.timer = setTimeout(() => this.timedOut(record, timeout), timeout * 1000)
    record.callbacks.onStarted?.(nodeIndex, slot)
  }

  /** The agent finished a task. */
  completed(nodeIndex: number, id: number, outcome: TaskOutcome): void {
    const record = this.release(nodeIndex, id)
    if (record === undefined) return
    this.recentRunSeconds =
      this.recentRunSeconds === Infinity ? outcome.duration : this.recentRunSeconds + RUN_TIME_SMOOTHING * (outcome.duration - this.recentRunSeconds)
    if (record.state !== State.Settled) {
      record.state = State.Done
      if (this.options.events.active)
        this.options.events.emit({ _tag: "TaskDone", task: id, node: nodeIndex, seconds: outcome.duration })
      record.callbacks.onDone(outcome)
    }
    this.pump()
  }

  /** The agent reported a failure for a task: its `error` message. */
  failed(nodeIndex: number, id: number, failure: ErrorFrame): void {
    const record = this.release(nodeIndex, id)
    if (record === undefined) return
    const withdrawn = this.endWithdrawal(record) && failure.kind === "cancelled"
    if (failure.kind === "blob") this.nodes.get(nodeIndex)?.link.forgetBlobs?.()
    if (record.state === State.Running && withdrawn) {
      this.requeueFirst(record) // handed back unstarted: it goes to the node with the free slot that asked for work
    } else if (record.state === State.Running && failure.kind === "blob" && record.blobResends < MAX_BLOB_RESENDS) {
      // the node dropped a blob the task needs: not the task's fault; it goes again, blobs first
      record.blobResends++
      this.requeueFirst(record)
    } else if (record.state !== State.Settled) {
      if (failure.kind === "lost") this.retryOrFail(record, nodeIndex, failure.message)
      else this.finishWithError(record, toTaskError(failure, nodeIndex, record.spec.timeout ?? this.options.timeout), nodeIndex)
    }
    this.pump()
  }

  /** Routes a task's output line to whoever submitted it. */
  log(nodeIndex: number, id: number | undefined, stream: string, line: string): void {
    const callbacks = id === undefined ? undefined : this.tasks.get(id)?.callbacks
    if (this.options.events.active)
      this.options.events.emit({
        _tag: "Log",
        node: nodeIndex,
        stream,
        line,
        ...(id === undefined ? {} : { task: id }),
        ...(callbacks?.onLog === undefined ? {} : { forwarded: true })
      })
    callbacks?.onLog?.(nodeIndex, stream, line)
  }

  /** A node is gone: its in-flight tasks run again elsewhere (within `retries`). */
  nodeLost(nodeIndex: number, reason: string): void {
    const node = this.nodes.get(nodeIndex)
    if (node === undefined || !node.alive || this.closedReason !== undefined) return
    node.alive = false
    this.ready.remove(node)
    this.overbooked -= Math.max(0, node.load)
    this.holders.delete(node)
    const inFlight = [...node.inFlight.values()]
    node.inFlight.clear()
    for (const record of inFlight) {
      this.endWithdrawal(record)
      this.queue.stopped(record)
    }
    this.options.events.emit({ _tag: "NodeLost", node: nodeIndex, reason, inFlight: inFlight.map((r) => r.id) })
    for (const record of inFlight.reverse()) {
      record.node = undefined
      this.clearTimer(record)
      if (record.state === State.Settled) this.forget(record)
      else this.retryOrFail(record, nodeIndex, `node ${nodeIndex} was lost: ${reason}`)
    }
    if (this.ready.size === 0) {
      for (const record of this.queue.drain())
        if (record.state === State.Queued)
          this.finishWithError(record, workerLost(record, `every node of the pool was lost (last: node ${nodeIndex}: ${reason})`))
    }
    this.pump()
  }

  /** Fails everything still pending and refuses new tasks. */
  close(reason: string): void {
    this.closedReason = reason
    for (const record of [...this.tasks.values()]) {
      if (record.state === State.Running) record.node?.link.sendCancel(record.id)
      this.settle(record, new TaskCancelled({ reason }))
      this.forget(record)
    }
    this.queue.drain()
  }

  private pump(): void {
    for (;;) {
      let node = this.ready.peek()
      if (node === undefined) return
      if (this.queue.length === 0) {
        if (node.load < 0 && this.overbooked > this.withdrawals) this.withdrawOne()
        return
      }
      if (node.load >= 0 && node.load >= this.heldBy(node)) return
      const record = this.queue.shift()!
      if (record.state !== State.Queued) continue
      const blobs = record.spec.blobs
      if (blobs !== undefined && !node.link.holds?.(blobs)) node = this.holderOf(blobs) ?? node
      record.state = State.Running
      record.node = node
      record.started = false
      record.sentToFreeSlotAt = node.load < 0 && timesRoundTrip(record.spec, node) ? this.now() : undefined
      record.attempts++
      node.inFlight.set(record.id, record)
      node.idleSince = undefined
      this.queue.started(record)
      if (++node.load > 0) {
        this.overbooked++
        this.holders.add(node)
      }
      this.ready.update(node)
      node.link.sendSubmit(record.id, record.spec)
    }
  }

  /** How many tasks `node` may hold beyond its slots now (see HELD_BY_ONLY_NODE and MIN_COMPLETIONS_PER_ROUND_TRIP). */
  private heldBy(node: NodeState): number {
    const several = this.ready.size > 1
    if (several && (this.queue.length <= this.ready.size || node.link.sendWithdraw === undefined)) return 0
    const perSlot = this.queue.clientCount <= 1 || this.recentRunSeconds < SHORT_TASK_SECONDS
    const held = perSlot ? node.link.capacity : several ? 0 : HELD_BY_ONLY_NODE
    return Math.max(held, this.heldAcrossRoundTrip(node))
  }

  /** A second client arrived: tasks the nodes hold beyond what several clients allow are asked back, so its tasks get the next free slots. */
  private askBackExcess(): void {
    for (const node of this.holders) {
      if (node.link.sendWithdraw === undefined) continue
      const unstarted = [...node.inFlight.values()].filter((r) => !r.started && r.state === State.Running)
      const kept = unstarted.filter((r) => !r.withdrawing)
      const excess = node.load - this.heldBy(node) - (unstarted.length - kept.length)
      if (excess <= 0) continue
      // the newest: the oldest are the next to start
      for (const record of kept.slice(-excess)) {
        record.withdrawing = true
        this.withdrawals++
        node.link.sendWithdraw(record.id)
      }
    }
  }

  /** The tasks `node`'s slots finish during one round trip to it, when that is worth holding. */
  private heldAcrossRoundTrip(node: NodeState): number {
    const completions = (node.link.capacity * node.roundTrip) / this.recentRunSeconds
    if (!(completions >= MIN_COMPLETIONS_PER_ROUND_TRIP)) return 0 // also while nothing is measured yet
    return Math.min(Math.ceil(completions), node.link.capacity * MAX_HELD_PER_SLOT)
  }

  /**
   * A slot is free and nothing is queued, while some agent holds a task it has not started: ask for
   * the newest such task back (the agent answers `cancelled`, then it is queued again here).
   */
  private withdrawOne(): void {
    let victim: TaskRecord | undefined
    for (const node of this.holders) {
      if (node.link.sendWithdraw === undefined) continue
      for (const record of node.inFlight.values())
        if (!record.started && !record.withdrawing && record.state === State.Running) victim = record
      if (victim !== undefined) break
    }
    if (victim === undefined) return
    victim.withdrawing = true
    this.withdrawals++
    victim.node!.link.sendWithdraw!(victim.id)
  }

  /** Puts a task that never ran back at the head of its client's queue; the sending is not counted as an attempt. */
  private requeueFirst(record: TaskRecord): void {
    record.attempts--
    record.state = State.Queued
    this.tasks.set(record.id, record)
    this.queue.unshift(record)
  }

  /** Ends a pending withdrawal of `record`; true if there was one. */
  private endWithdrawal(record: TaskRecord): boolean {
    if (!record.withdrawing) return false
    record.withdrawing = false
    this.withdrawals--
    return true
  }

  /** A node with a free slot that holds all of `blobs` already: better than one they must be sent to. */
  private holderOf(blobs: ReadonlyArray<string>): NodeState | undefined {
    for (const node of this.nodes.values()) if (node.alive && node.load < 0 && node.link.holds?.(blobs)) return node
    return undefined
  }

  private timedOut(record: TaskRecord, seconds: number): void {
    record.timer = undefined
    if (record.state !== State.Running) return
    record.node?.link.sendCancel(record.id)
    this.settle(record, new TaskTimeout({ seconds, ...(record.node ? { node: record.node.index } : {}) }))
  }

  private retryOrFail(record: TaskRecord, nodeIndex: number, reason: string): void {
    if (record.attempts > this.options.retries || this.ready.size === 0) {
      this.finishWithError(record, workerLost(record, reason, nodeIndex), nodeIndex)
      return
    }
    record.state = State.Queued
    this.options.events.emit({ _tag: "TaskRetried", task: record.id, fromNode: nodeIndex, attempt: record.attempts + 1 })
    this.queue.unshift(record)
  }

  /** Fires the failure callback now; the slot stays taken until the agent answers. */
  private settle(record: TaskRecord, error: TaskError): void {
    this.clearTimer(record)
    const wasQueued = record.state === State.Queued
    record.state = State.Settled
    if (this.options.events.active) this.options.events.emit(failedEvent(record.id, error))
    record.callbacks.onFailed(error)
    if (wasQueued) this.forget(record)
  }

  private finishWithError(record: TaskRecord, error: TaskError, nodeIndex?: number): void {
    record.state = State.Done
    this.forget(record)
    if (this.options.events.active)
      this.options.events.emit({ ...failedEvent(record.id, error), ...(nodeIndex === undefined ? {} : { node: nodeIndex }) })
    record.callbacks.onFailed(error)
  }

  /** Frees the slot a task held on a node; returns the record if the answer is for it. */
  private release(nodeIndex: number, id: number): TaskRecord | undefined {
    const node = this.nodes.get(nodeIndex)
    const record = node?.inFlight.get(id)
    if (node === undefined || record === undefined) return undefined
    node.inFlight.delete(id)
    if (node.inFlight.size === 0) node.idleSince = this.now()
    this.queue.stopped(record)
    if (node.load-- > 0) {
      this.overbooked--
      if (node.load === 0) this.holders.delete(node)
    }
    this.ready.update(node)
    record.node = undefined
    this.clearTimer(record)
    this.forget(record)
    return record
  }

  private forget(record: TaskRecord): void {
    this.tasks.delete(record.id)
  }

  private clearTimer(record: TaskRecord): void {
    if (record.timer !== undefined) {
      clearTimeout(record.timer)
      record.timer = undefined
    }
  }
}

/** True when sending `spec` to `node` takes about one round trip: a small payload and no blob to send first. */
const timesRoundTrip = (spec: TaskSpec, node: NodeState): boolean =>
  (spec.payload === undefined || spec.payload.byteLength < ROUND_TRIP_PROBE_BYTES) && (spec.blobs === undefined || node.link.holds?.(spec.blobs) === true)

/** The `TaskFailed` event of a task that ended with `error`; a cancel (the caller's doing, not the task's) says so. */
const failedEvent = (task: number, error: TaskError): Extract<PoolEvent, { _tag: "TaskFailed" }> => ({
  _tag: "TaskFailed",
  task,
  error: error.message || error._tag,
  ...("traceback" in error && error.traceback ? { traceback: error.traceback } : {}),
  ...(error._tag === "TaskCancelled" ? { cancelled: true } : {})
})

/** `WorkerLost` for a task given up on: `reason` is what was lost last. */
const workerLost = (record: TaskRecord, reason: string, node?: number): WorkerLost =>
  new WorkerLost({ attempts: record.attempts, message: errorTexts.lost(reason, record.attempts), ...(node === undefined ? {} : { node }) })

/** The tagged error for an agent's `error`; it keeps the frame, which a bridge forwards as it was. */
const toTaskError = (frame: ErrorFrame, node: number, timeout: number | undefined): TaskError => {
  switch (frame.kind) {
    case "pickle":
      return new SerializationError({ excType: frame.excType, message: frame.message, traceback: frame.traceback, frame })
    case "timeout":
      return new TaskTimeout({ seconds: timeout ?? 0, node, frame })
    case "cancelled":
      return new TaskCancelled({ reason: frame.message, frame })
    default:
      return new RemoteError({
        excType: frame.excType,
        message: frame.message,
        traceback: frame.traceback,
        node,
        ...(frame.payload === undefined ? {} : { payload: frame.payload }),
        ...(frame.warnings === undefined ? {} : { warnings: frame.warnings }),
        frame
      })
  }
}
