import { describe, expect, it } from "vitest"
import { EventHub, Scheduler, TaskCancelled, WorkerLost, type NodeLink, type TaskError, type TaskOutcome } from "../src/index.js"

/** A node that records what the scheduler sent it; the test answers for the agent. */
const recordingNode = (index: number, capacity: number) => {
  const submitted: number[] = []
  const cancelled: number[] = []
  const link: NodeLink = {
    index,
    capacity,
    sendSubmit: (id) => submitted.push(id),
    sendCancel: (id) => cancelled.push(id)
  }
  return { link, submitted, cancelled }
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

describe("Scheduler", () => {
  it("fills the least-loaded node first and never exceeds a node's slots", () => {
    const scheduler = new Scheduler({ retries: 2, events: new EventHub() })
    const a = recordingNode(0, 2)
    const b = recordingNode(1, 2)
    scheduler.addNode(a.link)
    scheduler.addNode(b.link)
    const { callbacks } = collect()
    for (let i = 0; i < 6; i++) scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    expect(a.submitted).toEqual([1, 3])
    expect(b.submitted).toEqual([2, 4])
    expect(scheduler.queued).toBe(2)
    scheduler.completed(1, 2, outcome(1))
    expect(b.submitted).toEqual([2, 4, 5])
  })

  it("re-runs a lost node's tasks elsewhere, then gives up with WorkerLost", () => {
    const scheduler = new Scheduler({ retries: 1, events: new EventHub() })
    const a = recordingNode(0, 1)
    const b = recordingNode(1, 1)
    scheduler.addNode(a.link)
    scheduler.addNode(b.link)
    const { done, failed, callbacks } = collect()
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.nodeLost(0, "killed")
    expect(b.submitted).toEqual([2])
    scheduler.completed(1, 2, outcome(1))
    expect(b.submitted).toEqual([2, 1])
    scheduler.failed(1, 1, { kind: "lost", excType: "", message: "worker process died", traceback: "" })
    expect(failed.get(0)).toBeInstanceOf(WorkerLost)
    expect(done.get(1)).toMatchObject({ value: "ok" })
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
    const scheduler = new Scheduler({ retries: 2, events: new EventHub() })
    const a = recordingNode(0, 1)
    scheduler.addNode(a.link)
    const { failed, callbacks } = collect()
    const running = scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    const queued = scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.submit({ kind: "call", fn: "m:f" }, callbacks())
    scheduler.cancel(queued)
    scheduler.cancel(running)
    expect(failed.get(0)).toBeInstanceOf(TaskCancelled)
    expect(failed.get(1)).toBeInstanceOf(TaskCancelled)
    expect(a.cancelled).toEqual([running])
    expect(a.submitted).toEqual([running])
    scheduler.failed(0, running, { kind: "cancelled", excType: "", message: "", traceback: "" })
    expect(a.submitted).toEqual([running, 3])
  })
})
