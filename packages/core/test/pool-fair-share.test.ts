import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
import { ComputePool, type PoolOptionsInput, type PromisePool } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skytest_funcs.py")
const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
  nodes: 2,
  worker: { concurrency: 2 },
  image: { files: { "skytest_funcs.py": funcs } },
  ...extra
})

type Client = "a" | "b"

/** What the two clients saw, in order: each task's start on a slot and its end. */
type Step = { readonly client: Client; readonly step: "start" | "done" }

beforeAll(async () => {
  // builds (or reuses) the test environment once, so the test measures the pool, not pip
  await ComputePool.use(options({ nodes: 1 }), async () => undefined)
})

afterEach(async () => {
  expect(await waitForNoAgents()).toEqual([])
  expect(nodeWorkDirs()).toEqual([])
  expect(tmpEntries()).toEqual([])
})

/** Queues `count` tasks of `seconds` for `client` through `dispatch`, as a bridge connection does. */
const queueTasks = (pool: PromisePool, client: Client, count: number, seconds: number, steps: Step[]) =>
  Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<unknown>((resolve, reject) => {
          pool.dispatch(
            { kind: "call", fn: "skytest_funcs:sleep", args: [seconds], client },
            {
              onStarted: () => steps.push({ client, step: "start" }),
              onDone: (outcome) => {
                steps.push({ client, step: "done" })
                resolve(outcome.value)
              },
              onFailed: reject
            }
          )
        })
    )
  )

describe("a pool shared by two clients", () => {
  it("runs a late client's tasks before the first client's queue drains, each on about half the slots", async () => {
    const steps: Step[] = []
    const manyTasks = 32
    const fewTasks = 8
    await ComputePool.use(options(), async (pool) => {
      expect(pool.totalSlots).toBe(4)
      const many = queueTasks(pool, "a", manyTasks, 0.4, steps)
      while (steps.filter((s) => s.client === "a" && s.step === "start").length < pool.totalSlots)
        await new Promise((resolve) => setTimeout(resolve, 20))
      // a holds every slot and has 28 tasks queued when b arrives
      const few = queueTasks(pool, "b", fewTasks, 0.4, steps)
      expect(await few).toEqual(Array.from({ length: fewTasks }, () => 0.4))
      expect(await many).toEqual(Array.from({ length: manyTasks }, () => 0.4))
    })

    const starts = steps.filter((s) => s.step === "start").map((s) => s.client)
    // the first slots that free after b arrived go to b, once what a's nodes held ahead of a free slot
    // (a task per node at most: only where the round trip is a measurable part of a task, as on a loaded machine) started
    expect(starts.slice(0, 4)).toEqual(["a", "a", "a", "a"])
    expect(starts.indexOf("b")).toBeLessThanOrEqual(4 + 2)
    const bFirst = starts.indexOf("b")
    const bLast = starts.lastIndexOf("b")
    // every task of b started while a still had most of its own queued
    expect(starts.slice(0, bLast).filter((c) => c === "a").length).toBeLessThanOrEqual(manyTasks / 2)
    // and a was not shut out meanwhile: its slots kept getting its next tasks
    expect(starts.slice(bFirst, bLast).filter((c) => c === "a").length).toBeGreaterThanOrEqual(2)

    // b got half the slots, and not much more: its share counts the tasks its nodes hold ahead of a free
    // slot too, and one held task per node may start as a slot of a frees (a loaded machine's round trip)
    let running = 0
    let most = 0
    for (const s of steps.filter((s) => s.client === "b")) {
      running += s.step === "start" ? 1 : -1
      most = Math.max(most, running)
    }
    expect(most).toBeGreaterThanOrEqual(2)
    expect(most).toBeLessThanOrEqual(3)
  })
})
