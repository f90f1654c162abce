import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { isDefinedPlugin, RemoteError } from "@skyward/core"
import { runPluginHooks, withTestPool } from "@skyward/testing"
import { describe, expect, it } from "vitest"
import taskTimingDefault, { formatSummary, taskTiming, TIMING_DIR_ENV, type NodeTiming } from "../src/index.js"

const funcs = { "timing_funcs.py": path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "timing_funcs.py") }

describe("the task-timing plugin's hooks", () => {
  it("is a defined plugin whose hooks are sound", () => {
    const report = runPluginHooks(taskTiming({ dir: "/somewhere" }))
    expect(report.problems).toEqual([])
    expect(report.warnings).toEqual([])
    expect(report.defined).toBe(true)
    expect(report.taskHook).toBe("skyward_task_timing:timed")
    expect(report.image.env).toEqual({ [TIMING_DIR_ENV]: "/somewhere/skyward-task-timing-sky-hooktest" })
    expect(report.image.pip).toEqual([])
    expect(isDefinedPlugin(taskTimingDefault())).toBe(true)
  })

  it("formats one line per node", () => {
    const summary: NodeTiming[] = [
      { node: 0, tasks: 2, seconds: 0.3, mean: 0.15, max: 0.2, slots: [0, 1] },
      { node: 1, tasks: 0, seconds: 0, mean: 0, max: 0, slots: [] }
    ]
    expect(formatSummary(summary)).toEqual([
      "task-timing: 2 tasks on 2 nodes",
      "task-timing: node 0: 2 tasks, 0.300s in tasks (mean 0.150s, max 0.200s), slots 0,1",
      "task-timing: node 1: 0 tasks, 0.000s in tasks (mean 0.000s, max 0.000s), slots -"
    ])
  })
})

describe("the task-timing plugin on a real pool", () => {
  it("times every task on the workers, failed ones included, and prints a per-node summary when the pool closes", async () => {
    const lines: string[] = []
    let summary: ReadonlyArray<NodeTiming> = []
    const base = fs.mkdtempSync(path.join(os.tmpdir(), "task-timing-test-"))
    try {
      const plugin = taskTiming({ dir: base, print: (line) => lines.push(line), onSummary: (s) => (summary = s) })
      const { value } = await withTestPool(
        { nodes: 2, worker: { concurrency: 2 }, image: { files: funcs }, plugins: [plugin] },
        async ({ pool }) => {
          const naps = await pool.map<number>("timing_funcs:nap", [0.2, 0.2, 0.2, 0.2, 0.05, 0.05, 0.05, 0.05])
          const error = await pool.map("timing_funcs:fail", ["boom"]).catch((e) => e)
          expect(error).toBeInstanceOf(RemoteError)
          expect(lines).toEqual([]) // nothing printed while the pool is open
          return naps
        },
        // the per-pool records folder must be gone once the pool has closed
        { removed: () => fs.readdirSync(base).map((name) => path.join(base, name)) }
      )
      expect(value).toHaveLength(8)
      expect(summary.map((s) => s.node)).toEqual([0, 1])
      expect(summary.reduce((n, s) => n + s.tasks, 0)).toBe(9)
      expect(summary.reduce((t, s) => t + s.seconds, 0)).toBeGreaterThanOrEqual(1.0)
      expect(Math.max(...summary.map((s) => s.max))).toBeGreaterThanOrEqual(0.2)
      expect(summary.every((s) => s.tasks > 0 && s.slots.every((slot) => slot === 0 || slot === 1))).toBe(true)
      expect(lines[0]).toBe("task-timing: 9 tasks on 2 nodes")
      expect(lines.slice(1).map((l) => l.split(":").slice(0, 2).join(":"))).toEqual(["task-timing: node 0", "task-timing: node 1"])
      expect(fs.readdirSync(base)).toEqual([])
    } finally {
      fs.rmSync(base, { recursive: true, force: true })
    }
  })
})
