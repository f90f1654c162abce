import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, expect, it } from "vitest"
import { ComputePool, type PoolEvent, type PoolOptionsInput } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

type NodeStats = Extract<PoolEvent, { readonly _tag: "NodeStats" }>

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skytest_funcs.py")
const options: PoolOptionsInput = {
  nodes: 2,
  worker: { concurrency: 1 },
  image: { files: { "skytest_funcs.py": funcs } },
  // agents beat every 0.5 s (a quarter of the timeout)
  heartbeatTimeout: 2
}

afterEach(async () => {
  expect(await waitForNoAgents()).toEqual([])
  expect(nodeWorkDirs()).toEqual([])
  expect(tmpEntries()).toEqual([])
})

it("reports each node's CPU and memory with its heartbeats, as NodeStats events", async () => {
  const stats: NodeStats[] = []
  const withCpu = (node: number) => stats.some((s) => s.node === node && s.cpu !== undefined)
  await ComputePool.use(
    options,
    async (pool) => {
      // a little work, then until each node sent a heartbeat measured over an interval (its second)
      await pool.map("skytest_funcs:sleep", [0.2, 0.2])
      const deadline = Date.now() + 20_000
      while (!(withCpu(0) && withCpu(1)) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
    },
    (event) => void (event._tag === "NodeStats" && stats.push(event))
  )
  expect(withCpu(0) && withCpu(1)).toBe(true)
  for (const s of stats) {
    expect([0, 1]).toContain(s.node)
    if (s.cpu !== undefined) {
      expect(s.cpu).toBeGreaterThanOrEqual(0)
      expect(s.cpu).toBeLessThanOrEqual(1)
    }
    // the local provider's nodes run on Linux here: every heartbeat reads the memory
    expect(s.memTotal).toBeDefined()
    expect(s.memUsed).toBeGreaterThan(0)
    expect(s.memUsed).toBeLessThanOrEqual(s.memTotal!)
  }
}, 120_000)
