import path from "node:path"
import { describe, expect, it } from "vitest"
import { repo, skyward } from "./cli.js"
import { lokyResultLines, pipOptions, resultLines } from "./loky.js"

// The workers and the `skyward run` client get the same library versions as the loky baseline.
// Each script is run from its own folder, as a user runs it: that folder is the working directory
// that travels (from the repository's root, all of its files would be snapshotted and sent each run).
const pool = ["--nodes", "2", "--concurrency", "2", "--plugin", "sklearn", ...pipOptions]

const EXAMPLES = ["grid_search.py", "cross_val.py", "joblib_sleep.py", "randomized_search.py", "rfecv.py", "voting.py", "cross_validate_metrics.py"]

// four at a time: a run spends most of its wall time starting and stopping its pool and waiting on
// its tasks' round trips, not computing (measured on 2 cores: 2 at a time 63 s, 4 at a time 41 s,
// all 7 at once 43 s)
let free = 4
const waiting: Array<() => void> = []
/** Runs `work` once fewer than four others run. */
const inLane = async <T>(work: () => Promise<T>): Promise<T> => {
  if (free > 0) free--
  else await new Promise<void>((resolve) => waiting.push(resolve))
  try {
    return await work()
  } finally {
    const next = waiting.shift()
    if (next) next()
    else free++
  }
}

describe("the examples under skyward run give loky's numbers", () => {
  it("runs the tasks in the worker agents of both nodes, with n_jobs=-1 = 4", async () => {
    const fixtures = path.join(repo, "apps/cli/test/fixtures")
    const result = await skyward(["run", "--quiet", ...pool, "where.py"], { cwd: fixtures })
    expect(result.code, result.stderr).toBe(0)
    const line = result.stdout.split("\n").find((l) => l.startsWith("where:"))!
    const report = JSON.parse(line.slice("where:".length)) as { n_jobs: number; client_pid: number; runs: Array<[number, number, number]> }
    expect(report.n_jobs).toBe(4)
    expect(report.runs.map((r) => r[0])).toEqual(Array.from({ length: 64 }, (_, i) => i))
    expect(new Set(report.runs.map((r) => r[1]))).toEqual(new Set([0, 1]))
    expect(report.runs.every((r) => r[2] !== report.client_pid)).toBe(true)
  })

  // four examples at a time (vitest starts up to 5 concurrent tests), each its own pool (the one
  // above made their environment first): while some pools start, stop or wait, the others compute
  it.concurrent.each(EXAMPLES)("%s", async (example) => {
    const script = path.join(repo, "examples", example)
    const loky = await lokyResultLines(script)
    const ours = await inLane(() => skyward(["run", "--quiet", ...pool, example], { cwd: path.dirname(script) }))
    expect(ours.code, ours.stderr).toBe(0)
    expect(resultLines(ours.stdout).length).toBeGreaterThan(0)
    expect(resultLines(ours.stdout)).toEqual(loky)
  })
})
