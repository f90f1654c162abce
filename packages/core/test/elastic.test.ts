import path from "node:path"
import { fileURLToPath } from "node:url"
import type { PoolEvent } from "@skyward/contracts"
import { afterEach, describe, expect, it } from "vitest"
import { ComputePool, type PoolOptionsInput } from "../src/index.js"
import { decideScaling, type ScalingView } from "../src/internal/scaling.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skytest_funcs.py")

const view = (extra: Partial<ScalingView>): ScalingView => ({
  min: 1,
  max: 4,
  live: 1,
  adding: 0,
  slots: 2,
  slotsPerNode: 2,
  queued: 0,
  taskSeconds: 0.2,
  waitingSeconds: 0,
  readySeconds: 2,
  idle: [],
  scaleDownAfter: 120,
  ...extra
})

describe("an elastic pool's rule", () => {
  it("adds the nodes that bring the queue's wait down to a node's readiness, up to max", () => {
    // 400 x 0.2 s on 2 slots: 40 s of waiting; a node is ready in 2 s: all 3 more nodes pay
    expect(decideScaling(view({ queued: 400 }))).toMatchObject({ direction: "up", count: 3 })
    // 30 x 0.2 s: 3 s on 2 slots, 2 nodes bring it to 1.5 s
    expect(decideScaling(view({ queued: 30 }))).toMatchObject({ direction: "up", count: 1 })
    // what waits less than a node takes to get ready is left to the nodes there
    expect(decideScaling(view({ queued: 10 }))).toBeUndefined()
    // nodes on their way count as slots
    expect(decideScaling(view({ queued: 400, adding: 3 }))).toBeUndefined()
    expect(decideScaling(view({ queued: 400, live: 4 }))).toBeUndefined()
    // before a task ended, the time tasks have waited stands for the wait
    expect(decideScaling(view({ queued: 5, taskSeconds: undefined, waitingSeconds: 1 }))).toBeUndefined()
    expect(decideScaling(view({ queued: 5, taskSeconds: undefined, waitingSeconds: 3 }))).toMatchObject({ direction: "up", count: 1 })
  })

  it("replaces lost nodes below min, and removes added nodes idle for scale-down-after, never below min, never while tasks wait", () => {
    expect(decideScaling(view({ min: 2, live: 1 }))).toMatchObject({ direction: "replace", count: 1 })
    const idle = [
      { node: 1, seconds: 130 },
      { node: 2, seconds: 200 },
      { node: 3, seconds: 10 }
    ]
    expect(decideScaling(view({ live: 4, idle }))).toMatchObject({ direction: "down", nodes: [2, 1] })
    expect(decideScaling(view({ min: 3, live: 4, idle }))).toMatchObject({ direction: "down", nodes: [2] })
    expect(decideScaling(view({ live: 4, idle, queued: 1 }))).toBeUndefined()
  })
})

describe("an elastic pool of local nodes", () => {
  afterEach(async () => {
    expect(await waitForNoAgents()).toEqual([])
    expect(nodeWorkDirs()).toEqual([])
    expect(tmpEntries()).toEqual([])
  })

  it("grows while tasks wait (new nodes get work at once), then shrinks to min once idle, every task run once", async () => {
    const events: PoolEvent[] = []
    const options: PoolOptionsInput = {
      nodes: { min: 1, max: 3 },
      scaleDownAfter: 2,
      worker: { concurrency: 2, executor: "thread" },
      image: { files: { "skytest_funcs.py": funcs } },
      log: false
    }
    await ComputePool.use(
      options,
      async (pool) => {
        expect(pool.totalSlots).toBe(2)
        const inputs = Array.from({ length: 120 }, (_, i) => 0.2 + i / 1e6)
        expect(await pool.map("skytest_funcs:sleep", inputs)).toEqual(inputs)
        const deadline = Date.now() + 30_000
        // a removed node leaves the slots first, then the cluster's nodes once its provider released it
        while ((pool.totalSlots > 2 || pool.cluster.nodes.length > 1) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200))
        expect(pool.totalSlots).toBe(2)
        expect(pool.cluster.nodes.map((n) => n.index)).toEqual([0])
      },
      (event) => events.push(event)
    )
    const scaled = events.filter((e): e is Extract<PoolEvent, { _tag: "PoolScaled" }> => e._tag === "PoolScaled")
    const added = scaled.filter((e) => e.direction === "up").flatMap((e) => e.nodes)
    expect(added).toEqual([1, 2])
    expect(scaled.find((e) => e.direction === "up")!.reason).toMatch(/tasks queued: .* of work on 2 slots; a node gets ready in/)
    expect(scaled.filter((e) => e.direction === "down").flatMap((e) => e.nodes).sort()).toEqual([1, 2])
    expect(scaled.find((e) => e.direction === "down")!.reason).toMatch(/idle for .*scale down after 2\.0s/)
    // the added nodes ran tasks of the call they joined
    const doneOn = new Set(events.flatMap((e) => (e._tag === "TaskDone" ? [e.node] : [])))
    expect([...doneOn].sort()).toEqual([0, 1, 2])
    expect(events.filter((e) => e._tag === "TaskDone")).toHaveLength(120)
    expect(events.filter((e) => e._tag === "NodeLost" || e._tag === "TaskRetried")).toEqual([])
  }, 120_000)
})
