// Tasks that take their worker down: os._exit(1), a segfault, memory exhaustion (inside a small
// memory cgroup of our own, never this machine's memory), and a task that never returns.
import fs from "node:fs"
import path from "node:path"
import { errorTexts } from "@skyward/codec"
import { ComputePool, type PromisePool } from "@skyward/core"
import { type PoolOptionsInput, type TaskError, TaskTimeout, WorkerLost } from "@skyward/contracts"
import { beforeAll, describe, expect, it } from "vitest"
import { alive, fixtures, isTag, leftoversOf, report, runCli, trackRuns } from "./support.js"

const funcs = path.join(fixtures, "fault_funcs.py")
const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
  nodes: 1,
  worker: { concurrency: 2 },
  image: { files: { "fault_funcs.py": funcs } },
  ...extra
})

const runs = trackRuns()

beforeAll(async () => {
  await ComputePool.use(options(), async () => undefined)
})

type Outcome = { ok: true; value: unknown; at: number } | { ok: false; error: TaskError; at: number }

/** Dispatches `fn(arg)` and resolves with how it ended. */
const call = (pool: PromisePool, fn: string, arg: unknown, timeout?: number): Promise<Outcome> =>
  new Promise((resolve) =>
    pool.dispatch(
      { kind: "call", fn: `fault_funcs:${fn}`, args: [arg], ...(timeout === undefined ? {} : { timeout }) },
      {
        onDone: (outcome) => resolve({ ok: true, value: outcome.value, at: Date.now() }),
        onFailed: (error) => resolve({ ok: false, error, at: Date.now() })
      }
    )
  )

const others = (pool: PromisePool) => Promise.all(Array.from({ length: 16 }, (_, i) => call(pool, "slow_square", i)))

describe("a task that kills its worker process", () => {
  for (const [fn, pattern] of [
    ["exit1", /worker process died with exit code 1 while running the task/],
    ["segfault", /worker process died with SIGSEGV while running the task/]
  ] as const) {
    it(`${fn}: that task fails with WorkerLost after its bounded retries; the others are unaffected; --retries 0 fails at once`, async () => {
      for (const retries of [2, 0]) {
        const started = Date.now()
        const [crash, rest] = await ComputePool.use(options({ retries }), (pool) => Promise.all([call(pool, fn, null), others(pool)]))
        expect(crash.ok).toBe(false)
        const error = (crash as { error: TaskError }).error
        expect(error).toBeInstanceOf(WorkerLost)
        expect((error as WorkerLost).attempts).toBe(retries + 1)
        expect(error.message).toMatch(pattern)
        expect(rest.map((r) => (r.ok ? r.value : r.error))).toEqual(Array.from({ length: 16 }, (_, i) => i * i))
        report({
          fault: `task ${fn === "exit1" ? "os._exit(1)" : "ctypes segfault"}, retries ${retries} (API, 1 node x 2 slots)`,
          happened: `WorkerLost after ${(error as WorkerLost).attempts} attempt(s): ${error.message}; 16 other tasks correct`,
          detectSeconds: (crash.at - started) / 1000,
          retried: retries,
          correct: true,
          left: []
        })
      }
    })
  }

  it("through skyward run: the joblib call fails with a clear error; with --retries 0 at once", async () => {
    for (const [how, retries, attempts, pattern] of [
      ["exit1", [], 3, /exit code 1/],
      ["segfault", ["--retries", "0"], 1, /SIGSEGV/]
    ] as const) {
      const run = await runCli(["run", "--json", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", ...retries, path.join(fixtures, "crash.py"), how])
      runs.push(run)
      expect(run.code, run.stderr.slice(-2000)).toBe(3)
      const line = run.stdout.split("\n").find((l) => l.startsWith("failed:"))!
      expect(line).toMatch(/^failed: WorkerLostError: worker process died with /)
      expect(line).toMatch(pattern)
      expect(line).toContain(errorTexts.lost("", attempts).trim()) // "(attempts: N)", the wording after the reason
      expect(run.events.filter(isTag("TaskRetried"))).toHaveLength(attempts - 1)
      expect(run.events.filter(isTag("NodeLost"))).toEqual([])
      const left = await leftoversOf(run)
      report({ fault: `task ${how} under joblib via \`skyward run\`${retries.length ? " --retries 0" : ""}`, happened: line, detectSeconds: run.seconds, retried: attempts - 1, correct: "yes (clear error, exit 3 from the script)", left })
      expect(left).toEqual([])
    }
  })
})

/** A memory cgroup of our own with a small limit (v2 memory.max, or v1 memory.limit_in_bytes). */
const makeMemoryCgroup = (limitBytes: number): { procs: string; remove: () => void; kind: string } | string => {
  const lines = fs.readFileSync("/proc/self/cgroup", "utf8").trim().split("\n")
  const v1 = lines.find((l) => l.split(":")[1]?.split(",").includes("memory"))
  let base: string
  let limitFile: string
  let kind: string
  if (v1 && fs.existsSync("/sys/fs/cgroup/memory")) {
    base = path.join("/sys/fs/cgroup/memory", v1.split(":")[2]!)
    limitFile = "memory.limit_in_bytes"
    kind = "cgroup v1 memory"
  } else {
    const v2 = lines.find((l) => l.startsWith("0::"))
    if (!v2 || !fs.readFileSync("/sys/fs/cgroup/cgroup.controllers", "utf8").includes("memory")) return "no memory cgroup controller"
    base = path.join("/sys/fs/cgroup", v2.slice(3))
    limitFile = "memory.max"
    kind = "cgroup v2"
  }
  const dir = path.join(base, `skyward-fault-${process.pid}-${Date.now()}`)
  try {
    fs.mkdirSync(dir)
    fs.writeFileSync(path.join(dir, limitFile), String(limitBytes))
    if (fs.existsSync(path.join(dir, "memory.swap.max"))) fs.writeFileSync(path.join(dir, "memory.swap.max"), "0")
  } catch (error) {
    fs.rmSync(dir, { force: true, recursive: false })
    return `cannot make a memory cgroup in ${base}: ${(error as Error).message}`
  }
  return {
    kind,
    procs: path.join(dir, "cgroup.procs"),
    remove: () => {
      for (const pid of fs.readFileSync(path.join(dir, "cgroup.procs"), "utf8").split("\n").filter(Boolean)) {
        try {
          process.kill(Number(pid), "SIGKILL")
        } catch {
          // gone
        }
      }
      for (let i = 0; i < 50; i++) {
        try {
          fs.rmdirSync(dir)
          return
        } catch {
          Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 100)
        }
      }
    }
  }
}

describe("a task that allocates until the OS kills it", () => {
  it("is reported lost with a hint about memory; the node's other slots keep working", async () => {
    const cgroup = makeMemoryCgroup(96 * 1024 * 1024)
    if (typeof cgroup === "string") {
      // no cgroup here: the kernel's OOM SIGKILL is what the agent sees; the SIGKILL path is tested by the agent's own tests
      report({ fault: "task exhausts memory", happened: `skipped: ${cgroup}`, correct: "n/a", left: [] })
      return
    }
    try {
      const started = Date.now()
      const [hog, rest] = await ComputePool.use(options(), (pool) => Promise.all([call(pool, "hog", cgroup.procs), others(pool)]))
      expect(hog.ok).toBe(false)
      const error = (hog as { error: TaskError }).error as WorkerLost
      expect(error).toBeInstanceOf(WorkerLost)
      expect(error.message).toMatch(/worker process died with SIGKILL while running the task/)
      expect(error.message).toMatch(/ran out of memory/)
      expect(rest.map((r) => (r.ok ? r.value : r.error))).toEqual(Array.from({ length: 16 }, (_, i) => i * i))
      report({
        fault: `task allocates until OOM-killed (${cgroup.kind} limit 96 MiB on its slot process only)`,
        happened: `WorkerLost after ${error.attempts} attempts: ${error.message}; other slot ran 16 tasks correctly`,
        detectSeconds: (hog.at - started) / 1000,
        retried: error.attempts - 1,
        correct: true,
        left: []
      })
    } finally {
      cgroup.remove()
    }
  })
})

describe("a task that never returns", () => {
  it("the per-task timeout cancels it, its slot process is killed and replaced, and the slot is reused", async () => {
    await ComputePool.use(options({ worker: { concurrency: 1 } }), async (pool) => {
      const [first] = (await pool.map<[number, number, number, number]>("fault_funcs:where", [0]))
      const stuckPid = first![3]
      const started = Date.now()
      const stuck = await call(pool, "forever", null, 1)
      const seconds = (stuck.at - started) / 1000
      expect(stuck.ok).toBe(false)
      expect((stuck as { error: TaskError }).error).toBeInstanceOf(TaskTimeout)
      expect((stuck as { error: TaskError }).error.message).toBe(errorTexts.timeout(1))
      const [after] = await pool.map<[number, number, number, number]>("fault_funcs:where", [1])
      expect(after![2]).toBe(0) // the same (only) slot
      expect(after![3]).not.toBe(stuckPid) // ... in a new process
      expect(alive(stuckPid)).toBe(false)
      report({ fault: "task never returns, timeout 1 s (process executor)", happened: `TaskTimeout; slot process ${stuckPid} killed, slot 0 reused by process ${after![3]}`, detectSeconds: seconds, retried: 0, correct: true, left: [] })
      expect(seconds).toBeLessThan(2.5)
    })
  })

  it("through skyward run --timeout: the joblib call fails with the timeout, nothing left", async () => {
    const run = await runCli(["run", "--json", "--nodes", "1", "--concurrency", "2", "--timeout", "2", "--plugin", "joblib", path.join(fixtures, "crash.py"), "forever"])
    runs.push(run)
    expect(run.code, run.stderr.slice(-2000)).toBe(3)
    const line = run.stdout.split("\n").find((l) => l.startsWith("failed:"))!
    expect(line).toContain(`TaskTimeoutError: ${errorTexts.timeout(2)}`)
    const left = await leftoversOf(run)
    report({ fault: "task never returns under joblib, `skyward run --timeout 2`", happened: line, detectSeconds: run.seconds, retried: 0, correct: "yes (clear error)", left })
    expect(left).toEqual([])
  })
})
