import { type ErrorFrame, errorExcTypes, errorTexts } from "@skyward/codec"
import { describe, expect, it, vi } from "vitest"
import { RemoteError, TaskCancelled, TaskTimeout, WorkerLost, type TaskError, type TaskOutcome, type TaskSpec } from "@skyward/contracts"
import { EventHub } from "../src/internal/event-hub.js"
import { Scheduler, type NodeLink } from "../src/internal/scheduler.js"
import { BlobStore } from "../src/internal/blob-store.js"

/** A node that records what the scheduler sent it; the test answers for the agent. */
const recordingNode = (index: number, capacity: number) => {
  const submitted: number[] = []
  const cancelled: number[] = []
  const withdrawn: number[] = []
  const link: NodeLink = {
    index,
    capacity,
    sendSubmit: (id) => submitted.push(id),
    sendCancel: (id) => cancelled.push(id),
    sendWithdraw: (id) => withdrawn.push(id)
  }
  return { link, submitted, cancelled, withdrawn }
}

const collect = () => {
  const done = new Map<number, TaskOutcome>()
  const failed = new Map<number, TaskError>()
  let next = 0
  const callbacks = () => {
    const key = next++
    return { onDone: (o: TaskOutcome) => done.set(key, o), onFailed: (e: TaskError) => failed.set(key, e) }
  }
  return { done, failed, callbacks }
}

const outcome = (node: number): TaskOutcome => ({ node, slot: 0, duration: 0, value: "ok" })

/** A scheduler with nodes 0 and 1 of `capacity` slots each. */
const twoNodes = (capacity: number, retries = 0) => {
  const scheduler = new Scheduler({ retries, events: new EventHub() })
  const a = recordingNode(0, capacity)
  const b = recordingNode(1, capacity)
  scheduler.addNode(a.link)
  scheduler.addNode(b.link)
  return { scheduler, a, b }
}

describe("Scheduler", () => {
  it("fills the least-loaded node first and never exceeds a node's slots", () => {
    const { scheduler, a, b } = twoNodes(2, 2)
    const { callbacks } = collect()
    for (let i = 0; i < 6; i++) scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    expect(a.submitted).toEqual([1, 3])
    expect(b.submitted).toEqual([2, 4])
    expect(scheduler.queued).toBe(2)
    scheduler.completed(1, 2, outcome(1))
    expect(b.submitted).toEqual([2, 4, 5])
  })

  it("says in TaskQueued how many of the client's calls a task runs, when the client said", () => {
    const events = new EventHub()
    const queued: unknown[] = []
    events.subscribe((event) => event._tag === "TaskQueued" && queued.push(event))
    const scheduler = new Scheduler({ retries: 0, events })
    const { callbacks } = collect()
    scheduler.submit({ kind: "pickle", payload: new Uint8Array([1]), calls: 4 }, callbacks())
    scheduler.submit({ kind: "pickle", payload: new Uint8Array([2]) }, callbacks())
    expect(queued).toEqual([
      { _tag: "TaskQueued", task: 1, calls: 4 },
      { _tag: "TaskQueued", task: 2 }
    ])
  })

  it("says in TaskFailed when a task was cancelled rather than failed", () => {
    const events = new EventHub()
    const failed: unknown[] = []
    events.subscribe((event) => event._tag === "TaskFailed" && failed.push(event))
    const scheduler = new Scheduler({ retries: 0, events })
    const a = recordingNode(0, 2)
    scheduler.addNode(a.link)
    const { callbacks } = collect()
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    expect(a.submitted).toEqual([1, 2])
    scheduler.cancel(1)
    scheduler.failed(0, 2, { kind: "user", excType: "builtins.ValueError", message: "bad", traceback: "" })
    expect(failed).toEqual([
      expect.objectContaining({ _tag: "TaskFailed", task: 1, cancelled: true }),
      expect.not.objectContaining({ cancelled: true })
    ])
  })

  it("re-runs a lost node's tasks elsewhere, then gives up with WorkerLost", () => {
    const { scheduler, b } = twoNodes(1, 1)
    const { done, failed, callbacks } = collect()
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.nodeLost(0, "killed")
    expect(b.submitted).toEqual([2, 1]) // b is the only node now: it holds task 1 ahead of its slot
    scheduler.completed(1, 2, outcome(1))
    scheduler.failed(1, 1, { kind: "lost", excType: "", message: "worker process died", traceback: "" })
    expect(failed.get(0)).toBeInstanceOf(WorkerLost)
    expect(failed.get(0)?.message).toBe(errorTexts.lost("worker process died", 2))
    expect(done.get(1)).toMatchObject({ value: "ok" })
  })

  it("keeps an agent's error frame on the tagged error, to be forwarded as it was", () => {
    const { scheduler } = twoNodes(1)
    const { failed, callbacks } = collect()
    scheduler.submit({ kind: "pickle" }, callbacks())
    scheduler.submit({ kind: "pickle" }, callbacks())
    const raised: ErrorFrame = { kind: "user", excType: "builtins.ValueError", message: "bad", traceback: "Traceback ...", payload: new Uint8Array([1]), node: 0, slot: 0 }
    const refused: ErrorFrame = { kind: "protocol", excType: "skyward.ProtocolError", message: "no payload", traceback: "", node: 1 }
    scheduler.failed(0, 1, raised)
    scheduler.failed(1, 2, refused)
    expect(failed.get(0)).toBeInstanceOf(RemoteError)
    expect(failed.get(0)).toMatchObject({ excType: "builtins.ValueError", message: "bad", frame: raised })
    expect((failed.get(1) as RemoteError).frame).toBe(refused)
  })

  it("fails queued tasks when every node is lost", () => {
    const scheduler = new Scheduler({ retries: 5, events: new EventHub() })
    scheduler.addNode(recordingNode(0, 1).link)
    const { failed, callbacks } = collect()
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.nodeLost(0, "gone")
    expect(failed.get(0)).toBeInstanceOf(WorkerLost)
    expect(failed.get(1)).toBeInstanceOf(WorkerLost)
    expect(scheduler.pending).toBe(0)
  })

  it("cancels queued and running tasks; the slot frees when the agent answers", () => {
    const { scheduler, a } = twoNodes(1, 2)
    const { failed, callbacks } = collect()
    const running = scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    const queued = scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.cancel(queued)
    scheduler.cancel(running)
    expect(failed.get(0)).toBeInstanceOf(TaskCancelled)
    expect(failed.get(2)).toBeInstanceOf(TaskCancelled)
    expect(a.cancelled).toEqual([running])
    expect(a.submitted).toEqual([running])
    scheduler.failed(0, running, { kind: "cancelled", excType: "", message: "", traceback: "" })
    expect(a.submitted).toEqual([running, 4])
  })

})

describe("Scheduler: tasks held ahead of a free slot", () => {
  const cancelledAnswer: ErrorFrame = { kind: "cancelled", excType: errorExcTypes.cancelled, message: errorTexts.cancelled("on request"), traceback: "" }

  it("holds one task behind each slot while one client has work; with several clients and long tasks the only node holds one, several nodes none, and one per slot again once tasks are short", () => {
    const task = (client?: string): TaskSpec => ({ kind: "call", fn: "m:f", ...(client === undefined ? {} : { client }) })
    const single = new Scheduler({ retries: 0, events: new EventHub() })
    const only = recordingNode(0, 2)
    single.addNode(only.link)
    for (let i = 0; i < 5; i++) single.submit(task(), collect().callbacks())
    expect(only.submitted).toEqual([1, 2, 3, 4]) // 3 and 4 wait in the agent and start the moment a slot frees
    expect(single.queued).toBe(1)

    const { scheduler: onePool, a: a1, b: b1 } = twoNodes(2)
    for (let i = 0; i < 12; i++) onePool.submit(task(), collect().callbacks())
    expect([a1.submitted, b1.submitted]).toEqual([[1, 3, 5, 7], [2, 4, 6, 8]])

    // two clients taking turns, nothing known about the tasks yet
    const shared = new Scheduler({ retries: 0, events: new EventHub() })
    const node = recordingNode(0, 2)
    shared.addNode(node.link)
    for (let i = 0; i < 6; i++) shared.submit(task(i % 2 ? "x" : "y"), collect().callbacks())
    expect(node.submitted).toEqual([1, 2, 3]) // the only node holds one
    shared.completed(0, 1, { ...outcome(0), duration: 0.002 })
    expect(node.submitted).toEqual([1, 2, 3, 4, 5]) // short tasks: one waits behind each slot

    const { scheduler: pool, a, b } = twoNodes(2)
    for (let i = 0; i < 9; i++) pool.submit(task(i % 2 ? "x" : "y"), collect().callbacks())
    expect([...a.submitted, ...b.submitted].sort()).toEqual([1, 2, 3, 4]) // several nodes: none held
    pool.completed(0, 1, { ...outcome(0), duration: 2 })
    expect(a.submitted).toEqual([1, 3, 5]) // a long task finished: its slot gets one, nothing is held
    expect(pool.queued).toBe(4)
  })

  it("lets each slot of several nodes have one task waiting behind it while tasks are short, but never the last queued ones", () => {
    const { scheduler: pool, a, b } = twoNodes(2)
    const { callbacks } = collect()
    for (let i = 0; i < 12; i++) pool.submit({ kind: "call", fn: "m:f" }, callbacks())
    pool.completed(0, 1, { ...outcome(0), duration: 0.002 })
    expect([...a.submitted, ...b.submitted].sort((x, y) => x - y)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(a.submitted).toHaveLength(5) // task 1 (finished), two on its slots, two waiting in its agent
    expect(b.submitted).toHaveLength(4) // two running, two waiting
    expect(pool.queued).toBe(3)
    pool.completed(1, 2, { ...outcome(1), duration: 0.002 })
    expect(pool.queued).toBe(2)
    pool.completed(0, 3, { ...outcome(0), duration: 0.002 })
    expect(pool.queued).toBe(2) // no more than there are nodes: they wait here for whichever slot frees first
  })

  it("holds nothing ahead on a node that cannot give a task back", () => {
    const pool = new Scheduler({ retries: 0, events: new EventHub() })
    const { sendWithdraw: _, ...cannot } = recordingNode(0, 1).link
    const submitted: number[] = []
    pool.addNode({ ...cannot, sendSubmit: (id) => submitted.push(id) })
    pool.addNode(recordingNode(1, 1).link)
    const { callbacks } = collect()
    for (let i = 0; i < 8; i++) pool.submit({ kind: "call", fn: "m:f" }, callbacks())
    pool.completed(0, submitted[0]!, { ...outcome(0), duration: 0.002 })
    expect(submitted).toHaveLength(2) // its free slot got a task, and nothing waits behind it
  })

  it("lets a node a round trip away hold what its slots finish during one round trip; a near node holds nothing for long tasks", () => {
    let clock = 0
    const pool = new Scheduler({ retries: 0, events: new EventHub(), now: () => clock })
    const far = recordingNode(0, 4)
    const near = recordingNode(1, 4)
    pool.addNode(far.link)
    pool.addNode(near.link)
    const { callbacks } = collect()
    // two clients taking turns (one alone would have one task held behind each slot anyway)
    for (let i = 0; i < 40; i++) pool.submit({ kind: "pickle", payload: new Uint8Array(100), client: i % 2 ? "x" : "y" }, callbacks())
    expect([far.submitted.length, near.submitted.length]).toEqual([4, 4])
    // a slot's first start also waits for its process: it times nothing
    for (const [slot, id] of far.submitted.entries()) pool.started(0, id, slot)
    for (const [slot, id] of near.submitted.entries()) pool.started(1, id, slot)
    clock = 100
    pool.completed(0, far.submitted[0]!, { ...outcome(0), duration: 0.1 })
    pool.completed(1, near.submitted[0]!, { ...outcome(1), duration: 0.1 })
    expect([far.submitted.length, near.submitted.length]).toEqual([5, 5]) // nothing known yet: the freed slots' tasks only
    // the next starts: the near agent's at once, the far one's a 20 ms round trip later
    clock = 100.2
    pool.started(1, near.submitted[4]!, 0)
    clock = 120
    pool.started(0, far.submitted[4]!, 0)
    // 100 ms tasks: the far node's 4 slots finish 0.8 tasks per round trip, so it holds one beyond its slots
    clock = 200
    pool.completed(0, far.submitted[1]!, { ...outcome(0), duration: 0.1 })
    expect(far.submitted).toHaveLength(7) // the freed slot's task and one held behind the slots
    pool.completed(1, near.submitted[1]!, { ...outcome(1), duration: 0.1 })
    expect(near.submitted).toHaveLength(6) // 0.2 ms away: the freed slot's task only
    // a task with a large payload does not time the round trip (it measures the bandwidth)
    const big = new Scheduler({ retries: 0, events: new EventHub(), now: () => clock })
    const slow = recordingNode(0, 1)
    big.addNode(slow.link)
    big.addNode(recordingNode(1, 1).link)
    for (let i = 0; i < 6; i++) big.submit({ kind: "pickle", payload: new Uint8Array(1 << 20), client: i % 2 ? "x" : "y" }, callbacks())
    big.started(0, slow.submitted[0]!, 0)
    big.completed(0, slow.submitted[0]!, { ...outcome(0), duration: 0.1 })
    clock += 500
    big.started(0, slow.submitted[1]!, 0)
    big.completed(0, slow.submitted[1]!, { ...outcome(0), duration: 0.1 })
    expect(slow.submitted).toHaveLength(3) // no round trip known: the freed slot's task only, nothing held
  })

  /** Node a (1 slot) runs task 1 and holds task 2; then node b joins, idle, with nothing queued. */
  const secondNodeJoins = () => {
    const scheduler = new Scheduler({ retries: 0, events: new EventHub() })
    const a = recordingNode(0, 1)
    scheduler.addNode(a.link)
    const results = collect()
    scheduler.submit({ kind: "call", fn: "m:f" }, results.callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, results.callbacks())
    expect(a.submitted).toEqual([1, 2])
    const b = recordingNode(1, 1)
    scheduler.addNode(b.link)
    return { scheduler, a, b, ...results }
  }

  it("takes back a task a busy node holds when another node is idle, and runs it there", () => {
    const { scheduler, a, b, done, failed } = secondNodeJoins()
    expect(a.withdrawn).toEqual([2]) // b is idle and nothing is queued: task 2 is asked back from a
    expect(a.cancelled).toEqual([]) // never a cancel that could kill a running slot
    scheduler.failed(0, 2, cancelledAnswer)
    expect(b.submitted).toEqual([2])
    expect(failed.size).toBe(0) // the caller sees nothing of it
    scheduler.completed(1, 2, outcome(1))
    expect(done.get(1)).toMatchObject({ node: 1 })
  })

  it("leaves a task that started before the withdrawal arrived where it runs", () => {
    const { scheduler, a, b, done, failed } = secondNodeJoins()
    expect(a.withdrawn).toEqual([2])
    scheduler.completed(0, 1, outcome(0))
    scheduler.started(0, 2, 0) // the agent started it; it ignores the withdrawal
    scheduler.completed(0, 2, outcome(0))
    expect(done.get(1)).toMatchObject({ node: 0 })
    expect(b.submitted).toEqual([])
    expect(failed.size).toBe(0)
    expect(scheduler.pending).toBe(0)
  })

  it("counts a task's timeout from its start on a slot, not from its wait in the agent", () => {
    vi.useFakeTimers()
    try {
      const scheduler = new Scheduler({ retries: 0, timeout: 1, events: new EventHub() })
      const a = recordingNode(0, 1)
      scheduler.addNode(a.link)
      const { failed, callbacks } = collect()
      scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
      scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
      scheduler.started(0, 1, 0)
      vi.advanceTimersByTime(900)
      scheduler.completed(0, 1, outcome(0))
      vi.advanceTimersByTime(900) // task 2 was sent 1.8 s ago but has not started
      expect(failed.size).toBe(0)
      scheduler.started(0, 2, 0)
      vi.advanceTimersByTime(1001)
      expect(failed.get(1)).toBeInstanceOf(TaskTimeout)
      expect(failed.get(1)?.message).toBe(errorTexts.timeout(1))
      expect(a.cancelled).toEqual([2])
    } finally {
      vi.useRealTimers()
    }
  })
})

describe("Scheduler and blobs", () => {
  /** A node that remembers which blobs it was sent, as the agent link does. */
  const blobNode = (index: number, capacity: number) => {
    const held = new Set<string>()
    const submitted: number[] = []
    const link: NodeLink = {
      index,
      capacity,
      sendSubmit: (id, spec) => {
        spec.blobs?.forEach((hash) => held.add(hash))
        submitted.push(id)
      },
      sendCancel: () => undefined,
      holds: (hashes) => hashes.every((hash) => held.has(hash)),
      forgetBlobs: () => held.clear()
    }
    return { link, held, submitted }
  }

  it("prefers a free node that holds a task's blobs over the least-loaded one", () => {
    const scheduler = new Scheduler({ retries: 0, events: new EventHub() })
    const a = blobNode(0, 2)
    const b = blobNode(1, 2)
    scheduler.addNode(a.link)
    scheduler.addNode(b.link)
    const { callbacks } = collect()
    scheduler.submit({ kind: "pickle", blobs: ["x"] }, callbacks())
    scheduler.submit({ kind: "pickle", blobs: ["x"] }, callbacks())
    expect(a.submitted).toEqual([1, 2]) // b was less loaded for the second, but a holds "x"
    scheduler.submit({ kind: "pickle", blobs: ["x"] }, callbacks())
    expect(b.submitted).toEqual([3]) // a is full: b gets it (and "x" with it)
  })

  it("sends a task again, blobs first, when its node dropped them; not counted as an attempt", () => {
    const scheduler = new Scheduler({ retries: 0, events: new EventHub() })
    const a = blobNode(0, 1)
    scheduler.addNode(a.link)
    const { done, failed, callbacks } = collect()
    scheduler.submit({ kind: "pickle", blobs: ["x"] }, callbacks())
    const dropped: ErrorFrame = { kind: "blob", excType: errorExcTypes.blob, message: errorTexts.blob("this node", "x"), traceback: "" }
    scheduler.failed(0, 1, dropped)
    expect(a.held.size).toBe(1) // forgotten, then sent again with the resubmission
    expect(a.submitted).toEqual([1, 1])
    scheduler.completed(0, 1, outcome(0))
    expect(done.get(0)).toBeDefined()
    // a node that keeps dropping them: the task fails after a few rounds instead of looping
    scheduler.submit({ kind: "pickle", blobs: ["y"] }, callbacks())
    for (let i = 0; i < 4; i++) scheduler.failed(0, 2, dropped)
    expect(failed.get(1)?.message).toContain("does not hold blob")
  })
})

describe("BlobStore", () => {
  it("keeps pinned blobs, and unpinned ones least recently used first within its budget", () => {
    const store = new BlobStore(10)
    const bytes = (n: number) => new Uint8Array(n)
    store.put("a", bytes(4))
    store.put("b", bytes(4))
    store.pin(["a"])
    store.put("c", bytes(8)) // over budget: b goes (a is pinned, c was just put)
    expect(store.missing(["a", "b", "c"])).toEqual(["b"])
    store.unpin(["a"])
    expect(store.missing(["a", "c"])).toEqual(["a"]) // a is the oldest unpinned once over budget
    store.put("huge", bytes(100)) // larger than the budget: kept until something else is put
    expect(store.get("huge")?.byteLength).toBe(100)
    expect(store.missing(["c"])).toEqual(["c"])
  })
})
