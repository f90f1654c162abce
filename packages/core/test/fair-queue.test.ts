import { describe, expect, it } from "vitest"
import { type ErrorFrame, errorExcTypes, errorTexts } from "@skyward/codec"
import type { TaskOutcome, TaskSpec } from "@skyward/contracts"
import { EventHub } from "../src/internal/event-hub.js"
import { FairQueue, type ClientKey } from "../src/internal/fair-queue.js"
import { Scheduler, type NodeLink } from "../src/internal/scheduler.js"

interface Item {
  readonly client: ClientKey
  readonly n: number
}

const fairQueue = () => new FairQueue<Item>((item) => item.client)

/** Takes `count` items, each handed out (`started`) as the scheduler would. */
const take = (queue: FairQueue<Item>, count: number): Item[] => {
  const out: Item[] = []
  for (let i = 0; i < count; i++) {
    const item = queue.shift()!
    queue.started(item)
    out.push(item)
  }
  return out
}

describe("FairQueue", () => {
  it("is a plain FIFO with one client, and unshift puts an item first", () => {
    const queue = fairQueue()
    for (let n = 1; n <= 4; n++) queue.push({ client: undefined, n })
    queue.unshift({ client: undefined, n: 0 })
    expect(queue.length).toBe(5)
    expect(take(queue, 5).map((item) => item.n)).toEqual([0, 1, 2, 3, 4])
    expect(queue.length).toBe(0)
    expect(queue.shift()).toBeUndefined()
  })

  it("serves the client with the fewest items out first, so a late client gets the next free slots", () => {
    const queue = fairQueue()
    for (let n = 0; n < 10; n++) queue.push({ client: "a", n })
    const running = take(queue, 4) // a holds all 4 slots
    for (let n = 0; n < 3; n++) queue.push({ client: "b", n })
    queue.stopped(running[0]!) // a slot frees: a has 3 out, b none
    expect(take(queue, 1)).toEqual([{ client: "b", n: 0 }])
    queue.stopped(running[1]!) // a 2, b 1
    expect(take(queue, 1)).toEqual([{ client: "b", n: 1 }])
    queue.stopped(running[2]!) // a 1, b 2: a's turn again
    expect(take(queue, 1)).toEqual([{ client: "a", n: 4 }])
    expect(queue.length).toBe(6)
  })

  it("alternates between equally busy clients, least recently served first", () => {
    const queue = fairQueue()
    for (let n = 0; n < 4; n++) queue.push({ client: 1, n })
    for (let n = 0; n < 4; n++) queue.push({ client: 2, n })
    expect(take(queue, 6).map((item) => `${item.client}:${item.n}`)).toEqual(["1:0", "2:0", "1:1", "2:1", "1:2", "2:2"])
  })

  it("puts an item handed back first of its own client's items, not before other clients'", () => {
    const queue = fairQueue()
    queue.push({ client: "a", n: 1 })
    queue.push({ client: "a", n: 2 })
    queue.push({ client: "b", n: 1 })
    const [first] = take(queue, 1) // a:1
    queue.stopped(first!)
    queue.unshift(first!)
    // b was never served: its turn; then a's handed-back item comes before a:2
    expect(take(queue, 3).map((item) => `${item.client}:${item.n}`)).toEqual(["b:1", "a:1", "a:2"])
  })

  it("forgets a client once it has nothing queued and nothing out: no entry per finished client", () => {
    const queue = fairQueue()
    for (let client = 0; client < 100; client++) {
      queue.push({ client, n: 0 })
      const [item] = take(queue, 1)
      expect(queue.clientCount).toBe(1) // out, not queued: still counted for fairness
      queue.stopped(item!)
    }
    expect(queue.clientCount).toBe(0)
    queue.push({ client: "x", n: 0 })
    queue.push({ client: "y", n: 0 })
    expect(queue.drain().map((item) => item.client).sort()).toEqual(["x", "y"])
    expect(queue.length).toBe(0)
    expect(queue.clientCount).toBe(0)
    queue.stopped({ client: "never seen", n: 0 }) // harmless
  })

  it("drains a million queued items of one client (a pool closed with that many tasks queued)", () => {
    const queue = fairQueue()
    for (let n = 0; n < 1_000_000; n++) queue.push({ client: "x", n })
    const drained = queue.drain()
    expect(drained).toHaveLength(1_000_000)
    expect(drained[999_999]).toEqual({ client: "x", n: 999_999 })
  })
})

/** A node that records what the scheduler sent it; the test answers for the agent. */
const recordingNode = (index: number, capacity: number) => {
  const submitted: number[] = []
  const withdrawn: number[] = []
  const link: NodeLink = { index, capacity, sendSubmit: (id) => submitted.push(id), sendCancel: () => {}, sendWithdraw: (id) => withdrawn.push(id) }
  return { link, submitted, withdrawn }
}

/** What an agent answers for a task asked back before it started. */
const handedBack: ErrorFrame = { kind: "cancelled", excType: errorExcTypes.cancelled, message: errorTexts.cancelled("on request"), traceback: "" }

const ignore = { onDone: () => {}, onFailed: () => {} }
const long = (node: number): TaskOutcome => ({ node, slot: 0, duration: 5, value: "ok" })
const spec = (client?: string): TaskSpec => ({ kind: "call", fn: "m:f", ...(client === undefined ? {} : { client }) })

describe("Scheduler: several clients on one pool", () => {
  /** Two nodes of 2 slots; tasks are long (or not measured yet). */
  const pool = () => {
    const scheduler = new Scheduler({ retries: 1, events: new EventHub() })
    const a = recordingNode(0, 2)
    const b = recordingNode(1, 2)
    scheduler.addNode(a.link)
    scheduler.addNode(b.link)
    const nodeOf = (id: number) => (a.submitted.includes(id) ? 0 : 1)
    return { scheduler, a, b, nodeOf }
  }

  it("gives a client that arrives while another holds every slot the slots as they free, up to half", () => {
    const { scheduler, a, b, nodeOf } = pool()
    const clientOf = new Map<number, string>()
    const submit = (client: string) => clientOf.set(scheduler.submit(spec(client), ignore), client)
    for (let i = 0; i < 100; i++) submit("many")
    // alone, it has one task waiting behind each slot
    expect([a.submitted, b.submitted]).toEqual([[1, 3, 5, 7], [2, 4, 6, 8]])
    for (let i = 0; i < 10; i++) submit("few")
    // another client: those waiting are asked back (long tasks: they would keep its tasks from the next free slots)
    expect([a.withdrawn, b.withdrawn]).toEqual([[5, 7], [6, 8]])
    for (const id of [5, 7]) scheduler.failed(0, id, handedBack)
    for (const id of [6, 8]) scheduler.failed(1, id, handedBack)
    expect([a.submitted, b.submitted]).toEqual([[1, 3, 5, 7], [2, 4, 6, 8]]) // nothing sent for them: no slot is free
    const running = new Set([1, 2, 3, 4])
    expect([...running].map((id) => clientOf.get(id))).toEqual(["many", "many", "many", "many"])
    const held = () => {
      const counts = { many: 0, few: 0 }
      for (const id of running) counts[clientOf.get(id) as "many" | "few"]++
      return counts
    }
    const finish = (id: number) => {
      running.delete(id)
      const node = nodeOf(id)
      expect(node).toBe(a.submitted.includes(id) ? 0 : 1)
      const sent = [a, b][node]!.submitted
      const before = sent.length
      scheduler.completed(node, id, long(node))
      for (const next of sent.slice(before)) running.add(next) // the freed slot is on that node
    }
    finish(1)
    expect(held()).toEqual({ many: 3, few: 1 })
    finish(2)
    expect(held()).toEqual({ many: 2, few: 2 })
    // from now on each keeps half: whichever finishes, its slot goes back to the same client
    for (let round = 0; round < 8; round++) {
      const oldest = [...running][0]!
      finish(oldest)
      expect(held()).toEqual({ many: 2, few: 2 })
    }
    expect(scheduler.queued).toBe(110 - 14)
  })

  it("schedules one client (named or not) exactly as before: FIFO, one task waiting behind each slot", () => {
    for (const client of [undefined, "solo"]) {
      const { scheduler, a, b, nodeOf } = pool()
      for (let i = 0; i < 12; i++) scheduler.submit(spec(client), ignore)
      expect(a.submitted).toEqual([1, 3, 5, 7])
      expect(b.submitted).toEqual([2, 4, 6, 8])
      scheduler.completed(nodeOf(3), 3, long(nodeOf(3)))
      scheduler.completed(nodeOf(2), 2, long(nodeOf(2)))
      expect(a.submitted).toEqual([1, 3, 5, 7, 9])
      expect(b.submitted).toEqual([2, 4, 6, 8, 10])
      expect(scheduler.queued).toBe(2)
    }
  })

  it("runs a lost node's tasks again first among their own client's, after a client with nothing out", () => {
    const { scheduler, a, b } = pool()
    const x = [1, 2, 3, 4].map(() => scheduler.submit(spec("x"), ignore))
    const y = [1, 2, 3, 4].map(() => scheduler.submit(spec("y"), ignore))
    expect([...a.submitted, ...b.submitted].sort((p, q) => p - q)).toEqual(x) // x came first and took every slot
    expect(a.submitted).toEqual([1, 3])
    scheduler.nodeLost(0, "killed")
    // b, now the only node, holds one task ahead: y's, as y has nothing out and x has 2
    expect(b.submitted).toEqual([2, 4, y[0]])
    scheduler.completed(1, 2, long(1))
    expect(b.submitted.at(-1)).toBe(1) // x's turn (1 out against y's 1, served before y): its lost task 1, first of x's
    scheduler.completed(1, 4, long(1))
    expect(b.submitted.at(-1)).toBe(y[1])
    scheduler.completed(1, y[0]!, long(1))
    expect(b.submitted.at(-1)).toBe(3)
    expect(scheduler.queued).toBe(2)
  })
})
