import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { ComputePool, RemoteError, TaskCancelled, TaskTimeout, type PoolEvent, type PoolOptionsInput } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skytest_funcs.py")
const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
  nodes: 2,
  worker: { concurrency: 2 },
  image: { files: { "skytest_funcs.py": funcs } },
  ...extra
})

interface Where {
  readonly x: number
  readonly node: number
  readonly count: number
  readonly slot: number
  readonly pid: number
}

beforeAll(async () => {
  // builds (or reuses) the test environment once, so each test measures the pool, not pip
  await ComputePool.use(options({ nodes: 1 }), async () => undefined)
  // the shared pool is held to the same rule as every test's: nothing of it left
  expect(await waitForNoAgents()).toEqual([])
  expect(tmpEntries()).toEqual([])
})

afterEach(async () => {
  expect(await waitForNoAgents()).toEqual([])
  expect(nodeWorkDirs()).toEqual([])
  expect(tmpEntries()).toEqual([]) // also checked for every file by vitest.private-tmp.ts
})

describe("ComputePool on the local provider", () => {
  it("maps a Python function over 1,000 inputs on 2 nodes x 2 slots", async () => {
    const results = await ComputePool.use(options(), async (pool) => {
      expect(pool.totalSlots).toBe(4)
      expect(pool.cluster.nodes).toHaveLength(2)
      return pool.map<number>("skytest_funcs:square", Array.from({ length: 1000 }, (_, i) => i))
    })
    expect(results).toEqual(Array.from({ length: 1000 }, (_, i) => i * i))
  })

  it("runs tasks on both nodes, each in its own worker processes, with the node variables set", async () => {
    const results = await ComputePool.use(options(), (pool) =>
      pool.map<Where>("skytest_funcs:where", Array.from({ length: 200 }, (_, i) => i))
    )
    expect(new Set(results.map((r) => r.node))).toEqual(new Set([0, 1]))
    expect(new Set(results.map((r) => r.count))).toEqual(new Set([2]))
    expect(new Set(results.map((r) => r.slot))).toEqual(new Set([0, 1]))
    expect(new Set(results.map((r) => r.pid)).size).toBeGreaterThanOrEqual(3)
    expect(results.map((r) => r.x)).toEqual(Array.from({ length: 200 }, (_, i) => i))
  })

  it("shares this machine's CPUs between its nodes: BLAS threads of all slots add up to its CPU count", async () => {
    // without the share each of 2 one-slot nodes took every CPU for BLAS: twice the cores in threads
    const results = await ComputePool.use(options({ worker: { concurrency: 1 } }), (pool) =>
      pool.map<{ node: number; threads: number }>("skytest_funcs:blas_threads", Array.from({ length: 20 }, (_, i) => i))
    )
    expect(new Set(results.map((r) => r.node))).toEqual(new Set([0, 1]))
    const share = Math.max(1, Math.floor(os.availableParallelism() / 2))
    expect(new Set(results.map((r) => r.threads))).toEqual(new Set([share]))
  })

  it("re-raises a task's ValueError with the remote traceback, and never runs it again", async () => {
    const events: PoolEvent[] = []
    // 2 nodes, and a pool that would retry a lost worker's task: a user exception must still run once
    const error = await ComputePool.use(
      options({ retries: 3 }),
      (pool) => pool.map("skytest_funcs:boom", ["boom"]),
      (event) => events.push(event)
    ).catch((e) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect(error.excType).toBe("builtins.ValueError")
    expect(error.message).toBe("boom")
    expect(error.traceback).toContain("raise ValueError(message)")
    expect(error.payload).toBeInstanceOf(Uint8Array)
    const queued = events.filter((e) => e._tag === "TaskQueued")
    expect(queued).toHaveLength(1)
    const task = queued[0]!.task
    expect(events.filter((e) => e._tag === "TaskStarted" && e.task === task)).toHaveLength(1)
    // the function itself ran once: one line of its output
    expect(events.filter((e) => e._tag === "Log" && e.line === "boom is running: boom")).toHaveLength(1)
    expect(events.filter((e) => e._tag === "TaskRetried")).toEqual([])
    expect(events.filter((e) => e._tag === "TaskFailed" && e.task === task)).toHaveLength(1)
    expect(events.filter((e) => e._tag === "TaskDone")).toEqual([])
  })

  it("reports an exception that cannot be pickled by its type and message", async () => {
    const error = await ComputePool.use(options({ nodes: 1 }), (pool) =>
      pool.map("skytest_funcs:raise_unpicklable", ["held a lock"])
    ).catch((e) => e)
    expect(error).toBeInstanceOf(RemoteError)
    expect(error.excType).toBe("skytest_funcs.Unpicklable")
    expect(error.message).toBe("held a lock")
    expect(error.payload).toBeUndefined()
  })

  it("cancels a task past its timeout and reuses its slot", async () => {
    await ComputePool.use(options({ nodes: 1, worker: { concurrency: 1 } }), async (pool) => {
      const error = await pool.map("skytest_funcs:sleep", [60], { timeout: 1 }).catch((e) => e)
      expect(error).toBeInstanceOf(TaskTimeout)
      expect(await pool.map("skytest_funcs:square", [7])).toEqual([49])
    })
  })

  it("fails a map still running when the pool closes, instead of leaving it hanging", async () => {
    let running: Promise<unknown> | undefined
    await ComputePool.use(options({ nodes: 1, worker: { concurrency: 1 } }), async (pool) => {
      running = pool.map("skytest_funcs:sleep", [30, 30])
      running.catch(() => undefined)
      await new Promise((resolve) => setTimeout(resolve, 300))
    })
    await expect(running).rejects.toBeInstanceOf(TaskCancelled)
  })

  it("re-runs the in-flight tasks of a killed agent on the other node", async () => {
    const events: PoolEvent[] = []
    const results = await ComputePool.use(
      options(),
      async (pool) => {
        const running = pool.map<number>("skytest_funcs:sleep", Array.from({ length: 24 }, () => 0.2))
        await new Promise((resolve) => setTimeout(resolve, 500))
        const victim = events.find((e): e is Extract<PoolEvent, { _tag: "NodeReady" }> => e._tag === "NodeReady" && e.node === 1)
        process.kill(victim!.pid, "SIGKILL")
        return running
      },
      (event) => events.push(event)
    )
    expect(results).toEqual(Array.from({ length: 24 }, () => 0.2))
    const lost = events.find((e) => e._tag === "NodeLost")
    expect(lost).toMatchObject({ _tag: "NodeLost", node: 1 })
    expect(events.filter((e) => e._tag === "TaskRetried").length).toBeGreaterThan(0)
  })
})
