import { CostMeter, nodesPrice, type NodeInfo, type PoolEvent } from "@skyward/contracts"

/** Lines of task output kept per node, failures kept, scaling decisions kept, and points of the busy-slots chart. */
const OUTPUT_LINES_PER_NODE = 20
const FAILURES_KEPT = 10
const DECISIONS_KEPT = 20
const BUSY_POINTS = 600
/** The task rate is the tasks finished over this last stretch. */
const RATE_WINDOW_MS = 5_000

/** One node as the page shows it. */
export interface NodeView {
  readonly index: number
  address: string
  /** `removed`: an elastic pool took it away, idle; `lost`: it failed (or could not be added). */
  state: "starting" | "ready" | "lost" | "removed"
  lostReason?: string
  slots: number
  busy: number
  done: number
  failed: number
  /** Whole-machine CPU busy fraction and memory, from the agent's heartbeat, when it reports them. */
  cpu?: number
  memUsed?: number
  memTotal?: number
  /** When the last heartbeat with figures arrived (ms since the epoch). */
  lastHeartbeat?: number
  output: string[]
  instanceType?: string
  lifecycle?: string
  usdPerHour?: number
}

/** An elastic pool's decision (nodes added or removed) and why. */
export interface ScalingView {
  readonly at: number
  readonly direction: "up" | "down" | "replace"
  readonly nodes: ReadonlyArray<number>
  /** Nodes the pool has, or is getting, after it. */
  readonly live: number
  readonly reason: string
}

/** One `Parallel` call (a joblib call) of a client: its size and progress. */
export interface CallView {
  /** The client that made it (a script or notebook attached to the pool; "-" when it did not say). */
  readonly client: string
  readonly call: number
  total: number | undefined
  done: number
  failed: number
  /** Calls per second over the last few seconds, and seconds left at that rate. */
  rate: number
  eta: number | undefined
}

/** One client of the pool (a script or notebook): its tasks and how long its work has left. */
export interface ClientView {
  readonly client: string
  queued: number
  running: number
  done: number
  failed: number
  /** Tasks per second over the last few seconds, and seconds left of its calls of known size at that rate. */
  rate: number
  eta: number | undefined
}

/** A task's failure, with the remote traceback the error carries. */
export interface FailureView {
  readonly task: number
  readonly node: number | undefined
  readonly error: string
  readonly traceback: string | undefined
  readonly at: number
}

/** Everything the page shows; sent whole when it changed (a few KiB). */
export interface DashboardState {
  readonly name: string
  readonly provider: string
  readonly openedAt: number
  now: number
  nodes: NodeView[]
  queued: number
  running: number
  done: number
  failed: number
  /** Tasks finished per second over the last few seconds. */
  rate: number
  clients: ClientView[]
  calls: CallView[]
  failures: FailureView[]
  /** (time ms, busy slots) samples, oldest first. */
  busySeries: Array<readonly [number, number]>
  /** USD per hour of the pool's nodes now, when every node has a price. */
  usdPerHour: number | undefined
  priceSource: string | undefined
  /** USD spent since the page's pool opened: each node's price for as long as it was in the pool. */
  costSoFar: number | undefined
  /** An elastic pool's decisions, newest first. */
  scaling: ScalingView[]
  /** Bytes sent to the nodes and received from them, when the pool says. */
  traffic: { sentBytes: number; receivedBytes: number } | undefined
}

interface TaskTrack {
  node: number | undefined
  readonly calls: number
  readonly call: number | undefined
  readonly client: string
}

/** A window of (time ms, amount) finishes, for rates over the last RATE_WINDOW_MS. */
class Finishes {
  private readonly entries: Array<readonly [number, number]> = []
  add(at: number, amount: number): void {
    this.entries.push([at, amount])
  }
  /** Amount per second since `since`, over `span` seconds (older entries are dropped). */
  rate(since: number, span: number): number {
    while (this.entries.length > 0 && this.entries[0]![0] < since) this.entries.shift()
    return span > 0 ? this.entries.reduce((sum, [, n]) => sum + n, 0) / span : 0
  }
  get empty(): boolean {
    return this.entries.length === 0
  }
}

/** A node's machine as EC2 nodes tell it: instance type, spot or on-demand, price. */
const machineOf = (node: NodeInfo): Pick<NodeView, "instanceType" | "lifecycle" | "usdPerHour"> => ({
  ...(typeof node.data.instanceType === "string" ? { instanceType: node.data.instanceType } : {}),
  ...(typeof node.data.lifecycle === "string" ? { lifecycle: node.data.lifecycle } : {}),
  ...(node.price === undefined ? {} : { usdPerHour: node.price.usdPerHour })
})

const clientName = (client: string | number | undefined): string => (client === undefined ? "-" : String(client))

/** Seconds until `left` more finish at `rate` per second (0 when none is left; unknown without a rate). */
const secondsLeft = (left: number | undefined, rate: number): number | undefined =>
  left === undefined ? undefined : left <= 0 ? 0 : rate > 0 ? left / rate : undefined

/** Folds a pool's events into what the page shows. */
export class DashboardModel {
  private readonly tasks = new Map<number, TaskTrack>()
  private readonly finishes = new Finishes() // tasks
  // weak: a call or client dropped from the lists takes its window with it
  private readonly callFinishes = new WeakMap<CallView, Finishes>() // calls of a joblib call
  private readonly clientFinishes = new WeakMap<ClientView, Finishes>() // tasks of a client
  readonly state: DashboardState
  /** Bumped on every change, so the server sends only when something changed. */
  version = 0

  /** `nodes`: the open pool's, each ready with `slotsPerNode` slots; `nodeInfo`: what is known of a node that joins later. */
  constructor(
    info: {
      readonly name: string
      readonly provider: string
      readonly nodes: ReadonlyArray<NodeInfo>
      readonly slotsPerNode: number
      readonly nodeInfo?: (index: number) => NodeInfo | undefined
      readonly traffic?: () => { readonly sentBytes: number; readonly receivedBytes: number }
    },
    private readonly now: () => number = Date.now
  ) {
    this.nodeInfo = info.nodeInfo
    this.traffic = info.traffic
    const price = nodesPrice(info.nodes)
    this.cost = price === undefined ? undefined : new CostMeter(now(), price.usdPerHour)
    this.state = {
      name: info.name,
      provider: info.provider,
      openedAt: now(),
      now: now(),
      nodes: info.nodes.map((n) => ({
        index: n.index,
        address: n.address,
        state: "ready",
        slots: info.slotsPerNode,
        busy: 0,
        done: 0,
        failed: 0,
        output: [],
        ...machineOf(n)
      })),
      queued: 0,
      running: 0,
      done: 0,
      failed: 0,
      rate: 0,
      clients: [],
      calls: [],
      failures: [],
      busySeries: [],
      usdPerHour: price?.usdPerHour,
      priceSource: price?.source,
      costSoFar: price === undefined ? undefined : 0,
      scaling: [],
      traffic: undefined
    }
  }

  private readonly nodeInfo: ((index: number) => NodeInfo | undefined) | undefined
  private readonly traffic: (() => { readonly sentBytes: number; readonly receivedBytes: number }) | undefined
  /** The pool's cost, when it was priced as it opened (EC2). */
  private readonly cost: CostMeter | undefined

  /** The pool's price from its nodes in the pool now (starting or ready); one unpriced node makes it unknown. */
  private reprice(): void {
    if (this.cost === undefined) return
    const inPool = this.state.nodes.filter((n) => n.state === "ready" || n.state === "starting")
    this.state.usdPerHour = inPool.every((n) => n.usdPerHour !== undefined) ? inPool.reduce((sum, n) => sum + n.usdPerHour!, 0) : undefined
    this.cost.price(this.now(), this.state.usdPerHour)
  }

  /** The node `index`, made when an event names one the cluster did not list. */
  private node(index: number): NodeView {
    let node = this.state.nodes.find((n) => n.index === index)
    if (node === undefined) {
      node = { index, address: "?", state: "starting", slots: 0, busy: 0, done: 0, failed: 0, output: [] }
      this.state.nodes.push(node)
      this.state.nodes.sort((a, b) => a.index - b.index)
    }
    return node
  }

  private call(client: string, call: number): CallView {
    let view = this.state.calls.find((c) => c.client === client && c.call === call)
    if (view === undefined) {
      view = { client, call, total: undefined, done: 0, failed: 0, rate: 0, eta: undefined }
      this.state.calls.push(view)
      this.callFinishes.set(view, new Finishes())
    }
    return view
  }

  private client(client: string): ClientView {
    let view = this.state.clients.find((c) => c.client === client)
    if (view === undefined) {
      view = { client, queued: 0, running: 0, done: 0, failed: 0, rate: 0, eta: undefined }
      this.state.clients.push(view)
      this.clientFinishes.set(view, new Finishes())
    }
    return view
  }

  /** A task left: done (`ok`), failed, or cancelled (counted as neither). */
  private finished(id: number, ok: boolean, cancelled = false): TaskTrack | undefined {
    const task = this.tasks.get(id)
    if (task === undefined) return undefined
    this.tasks.delete(id)
    const client = this.client(task.client)
    if (task.node !== undefined) {
      const node = this.node(task.node)
      node.busy = Math.max(0, node.busy - 1)
      this.state.running--
      client.running--
    } else {
      this.state.queued--
      client.queued--
    }
    if (cancelled) return task
    if (ok) {
      client.done++
      this.clientFinishes.get(client)!.add(this.now(), 1)
    } else client.failed++
    if (task.call !== undefined) {
      const call = this.call(task.client, task.call)
      if (ok) {
        call.done += task.calls
        this.callFinishes.get(call)!.add(this.now(), task.calls)
      } else call.failed += task.calls
    }
    return task
  }

  /** Applies one pool event. */
  readonly apply = (event: PoolEvent): void => {
    switch (event._tag) {
      case "NodeProvisioned": {
        const node = this.node(event.node)
        node.address = event.address
        const info = this.nodeInfo?.(event.node)
        if (info !== undefined) Object.assign(node, machineOf(info))
        this.reprice()
        break
      }
      case "PoolScaled": {
        this.state.scaling.unshift({ at: this.now(), direction: event.direction, nodes: event.nodes, live: event.live, reason: event.reason })
        this.state.scaling.length = Math.min(this.state.scaling.length, DECISIONS_KEPT)
        if (event.direction === "down") for (const index of event.nodes) this.node(index).state = "removed"
        this.reprice()
        break
      }
      case "NodeReady": {
        const node = this.node(event.node)
        node.state = "ready"
        node.slots = event.slots
        break
      }
      case "NodeLost":
      case "NodeAddFailed": {
        const node = this.node(event.node)
        node.state = "lost"
        node.lostReason = event.reason
        this.reprice()
        break
      }
      case "TaskQueued": {
        const client = clientName(event.client)
        this.tasks.set(event.task, { node: undefined, calls: event.calls ?? 1, call: event.call, client })
        this.state.queued++
        this.client(client).queued++
        if (event.call !== undefined && event.callTotal !== undefined) this.call(client, event.call).total = event.callTotal
        break
      }
      case "TaskStarted": {
        const task = this.tasks.get(event.task)
        if (task === undefined || task.node !== undefined) break
        task.node = event.node
        this.state.queued--
        this.state.running++
        const client = this.client(task.client)
        client.queued--
        client.running++
        this.node(event.node).busy++
        break
      }
      case "TaskRetried": {
        const task = this.tasks.get(event.task)
        if (task === undefined || task.node === undefined) break
        const node = this.node(task.node)
        node.busy = Math.max(0, node.busy - 1)
        task.node = undefined
        this.state.running--
        this.state.queued++
        const client = this.client(task.client)
        client.running--
        client.queued++
        break
      }
      case "TaskDone": {
        this.finished(event.task, true)
        this.node(event.node).done++
        this.state.done++
        this.finishes.add(this.now(), 1)
        break
      }
      case "TaskFailed": {
        this.finished(event.task, false, event.cancelled === true)
        if (event.cancelled) break
        if (event.node !== undefined) this.node(event.node).failed++
        this.state.failed++
        this.state.failures.unshift({ task: event.task, node: event.node, error: event.error, traceback: event.traceback, at: this.now() })
        this.state.failures.length = Math.min(this.state.failures.length, FAILURES_KEPT)
        break
      }
      case "Log": {
        if (event.stream === "agent") break
        const output = this.node(event.node).output
        output.push(event.line)
        if (output.length > OUTPUT_LINES_PER_NODE) output.splice(0, output.length - OUTPUT_LINES_PER_NODE)
        break
      }
      case "NodeStats": {
        const node = this.node(event.node)
        if (event.cpu !== undefined) node.cpu = event.cpu
        if (event.memUsed !== undefined) node.memUsed = event.memUsed
        if (event.memTotal !== undefined) node.memTotal = event.memTotal
        node.lastHeartbeat = this.now()
        break
      }
      default:
        return
    }
    this.version++
  }

  /** Brings the time-based figures (rates, ETAs, the busy-slots chart) up to now; called every tick. */
  tick(): void {
    const now = this.now()
    const since = now - RATE_WINDOW_MS
    const span = Math.min(RATE_WINDOW_MS, now - this.state.openedAt) / 1000
    this.state.rate = this.finishes.rate(since, span)
    for (const call of this.state.calls) {
      call.rate = this.callFinishes.get(call)!.rate(since, span)
      call.eta = secondsLeft(call.total === undefined ? undefined : call.total - call.done - call.failed, call.rate)
    }
    for (const client of this.state.clients) {
      client.rate = this.clientFinishes.get(client)!.rate(since, span)
      client.eta = secondsLeft(client.queued + client.running, client.rate)
    }
    // calls and clients that finished a while ago leave the lists
    this.state.clients = this.state.clients.filter((c) => c.queued + c.running > 0 || !this.clientFinishes.get(c)!.empty)
    const busy = new Set(this.state.clients.filter((c) => c.queued + c.running > 0).map((c) => c.client))
    this.state.calls = this.state.calls.filter((c) => !this.callFinishes.get(c)!.empty || busy.has(c.client))
    if (this.cost !== undefined) this.state.costSoFar = this.cost.total(now)
    if (this.traffic !== undefined) this.state.traffic = { ...this.traffic() }
    this.state.busySeries.push([now, this.state.running])
    if (this.state.busySeries.length > BUSY_POINTS) this.state.busySeries.shift()
    this.state.now = now
    this.version++
  }
}
