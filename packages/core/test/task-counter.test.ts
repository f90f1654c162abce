import type { PoolEvent } from "@skyward/contracts"
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest"
import { TaskCounter } from "../src/internal/log/task-counter.js"

const queued = (task: number, calls: number, call?: number, callTotal?: number): PoolEvent => ({ _tag: "TaskQueued", task, calls, call, callTotal })
const done = (task: number): PoolEvent => ({ _tag: "TaskDone", task, node: 0, seconds: 0.5 })

beforeEach(() => {
  vi.useFakeTimers({ now: new Date("2026-01-01T00:00:00Z") })
})
afterEach(() => {
  vi.useRealTimers()
})

describe("progress of one joblib call", () => {
  it("shows the latest call's done of its size when the client said it, with an ETA while the pool's has none", () => {
    const counter = new TaskCounter()
    // call 1: a generator (size unknown), 4 calls in 2 batches, all done
    ;[queued(1, 2, 1), queued(2, 2, 1)].forEach((e) => counter.update(e))
    counter.update(done(1))
    counter.update(done(2))
    expect(counter.currentCall()).toBe("")
    // call 2: a list of 40, batches of 4 queued as slots free up
    ;[queued(3, 4, 2, 40), queued(4, 4, 2, 40)].forEach((e) => counter.update(e))
    vi.advanceTimersByTime(2_000)
    // joblib queues the next batch as one finishes
    counter.update(done(3))
    counter.update(queued(5, 4, 2, 40))
    expect(counter.summary()).toBe("tasks: 8 done of 16 queued so far (4.0/s); call 2: 4 done of 40, eta 9s")
    counter.update(done(4))
    counter.update(queued(6, 4, 2, 40))
    expect(counter.currentCall()).toBe("call 2: 8 done of 40, eta 6s")
    // the call's last batches done: nothing to say of it any more
    ;[7, 8, 9, 10, 11, 12].forEach((task) => counter.update(queued(task, 4, 2, 40)))
    ;[5, 6, 7, 8, 9, 10, 11, 12].forEach((task) => counter.update(done(task)))
    expect(counter.currentCall()).toBe("")
    expect(counter.summary()).toBe("tasks: 44 done of 44 queued so far (22.0/s)")
  })
})
