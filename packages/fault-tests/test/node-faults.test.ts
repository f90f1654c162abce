// Nodes that die: one agent of three SIGKILLed under a joblib call through `skyward run`, every
// node lost at once (killed, or frozen so only the heartbeat can tell), and the Node process
// itself SIGKILLed (its local agents must exit on their own).
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { ComputePool } from "@skyward/core"
import { type PoolEvent, type PoolOptionsInput, WorkerLost } from "@skyward/contracts"
import { beforeAll, describe, expect, it } from "vitest"
import {
  entriesOf,
  reportLostNode,
  fixtures,
  isTag,
  killAll,
  leftoversOf,
  processesMarked,
  report,
  resultLines,
  settle,
  sleep,
  startCli,
  trackRuns,
  venvPython,
  waitFor
} from "./support.js"

const funcs = path.join(fixtures, "fault_funcs.py")
const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
  nodes: 2,
  worker: { concurrency: 2 },
  image: { files: { "fault_funcs.py": funcs } },
  ...extra
})

const runs = trackRuns()

beforeAll(async () => {
  // builds (or reuses) the environment once, so the tests time the faults, not pip
  await ComputePool.use(options({ nodes: 1 }), async () => undefined)
})

describe("one node of three SIGKILLed mid-run, under joblib through skyward run", () => {
  it("gives loky's output; the events name the lost node and the retried tasks", async () => {
    const script = path.join(fixtures, "kill_one.py")
    const loky = execFileSync(venvPython, [script], { encoding: "utf8", env: { ...process.env, FAULT_N_JOBS: "9" } })
    const run = startCli(["run", "--json", "--nodes", "3", "--concurrency", "2", "--plugin", "joblib", script])
    runs.push(run)
    const victim = await run.when((e): e is Extract<PoolEvent, { _tag: "NodeReady" }> => e._tag === "NodeReady" && e.node === 1)
    await run.when((e): e is PoolEvent => e._tag === "TaskDone" && e.node === 1)
    const killedAt = Date.now()
    process.kill(victim.pid, "SIGKILL")
    const code = await run.exited
    expect(code, run.stderr.slice(-3000)).toBe(0)
    expect(resultLines(run.stdout)).toEqual(resultLines(loky))

    const left = await leftoversOf(run)
    const lost = reportLostNode(run, "agent SIGKILL, 1 of 3 local nodes, joblib via `skyward run`", killedAt, left)
    expect(lost.reason).toMatch(/killed by SIGKILL/)
    expect(left).toEqual([])
  })
})

describe("every node lost", () => {
  it("killed: the call fails with WorkerLost at once, never hangs", async () => {
    const ready: Array<Extract<PoolEvent, { _tag: "NodeReady" }>> = []
    let killedAt = 0
    let failedAt = 0
    const error = await ComputePool.use(
      options({ nodes: 3 }),
      async (pool) => {
        const running = pool.map("fault_funcs:sleep", Array.from({ length: 12 }, () => 5))
        await sleep(500)
        killedAt = Date.now()
        killAll(ready.map((e) => e.pid))
        return running.finally(() => (failedAt = Date.now()))
      },
      (event) => void (event._tag === "NodeReady" && ready.push(event))
    ).catch((e: unknown) => e)
    const seconds = (failedAt - killedAt) / 1000
    expect(error).toBeInstanceOf(WorkerLost)
    expect((error as WorkerLost).message).toMatch(/killed by SIGKILL/)
    expect(seconds).toBeLessThan(3)
    report({ fault: "all 3 local agents SIGKILLed", happened: `WorkerLost: ${(error as WorkerLost).message}`, detectSeconds: seconds, retried: "re-queued until no node was left", correct: "yes (fails, no hang)", left: [] })
  })

  it("frozen (SIGSTOP): the heartbeat watch declares them lost; WorkerLost within the heartbeat window", async () => {
    const heartbeatTimeout = 3
    const ready: Array<Extract<PoolEvent, { _tag: "NodeReady" }>> = []
    let stoppedAt = 0
    let failedAt = 0
    const error = await ComputePool.use(
      options({ heartbeatTimeout }),
      async (pool) => {
        const running = pool.map("fault_funcs:sleep", Array.from({ length: 8 }, () => 30))
        await sleep(500)
        stoppedAt = Date.now()
        killAll(ready.map((e) => e.pid), "SIGSTOP")
        return running.finally(() => (failedAt = Date.now()))
      },
      (event) => void (event._tag === "NodeReady" && ready.push(event))
    ).catch((e: unknown) => e)
    const closeSeconds = (Date.now() - failedAt) / 1000
    const seconds = (failedAt - stoppedAt) / 1000
    expect(error).toBeInstanceOf(WorkerLost)
    expect((error as WorkerLost).message).toMatch(/no heartbeat/)
    expect(seconds).toBeLessThan(heartbeatTimeout + 1.5)
    expect(seconds).toBeGreaterThan(heartbeatTimeout - 0.5)
    // closing the pool: the frozen agents get their grace period, then SIGKILL
    expect(closeSeconds).toBeLessThan(5)
    report({ fault: `both local agents frozen (SIGSTOP), heartbeatTimeout ${heartbeatTimeout} s`, happened: `WorkerLost: ${(error as WorkerLost).message}`, detectSeconds: seconds, retried: "re-queued until no node was left", correct: "yes (fails, no hang)", left: [] })
  })
})

describe("the Node process SIGKILLed", () => {
  it("local agents, their slots and the client script exit on their own within 5 s", async () => {
    const run = startCli(["run", "--json", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", path.join(fixtures, "sleepy.py")])
    runs.push(run)
    await run.whenOutput("started")
    await waitFor("4 running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 4, 30_000)
    const before = processesMarked(run.marker)
    expect(before.length).toBeGreaterThanOrEqual(7) // 2 agents, 4 slots, the client script (+ forkservers)
    const killedAt = Date.now()
    run.child.kill("SIGKILL")
    const left = await settle(() => processesMarked(run.marker), 5_000)
    const seconds = (Date.now() - killedAt) / 1000
    // a dead Node cannot remove its folders; the next pool in the same TMPDIR removes them
    const orphans = entriesOf(run.tmp).filter((f) => !f.includes("/"))
    expect(orphans.length).toBeGreaterThan(0)
    const next = startCli(["run", "--quiet", "--nodes", "2", "--concurrency", "1", "--plugin", "joblib", path.join(fixtures, "ok.py")], {
      env: { TMPDIR: run.tmp }
    })
    runs.push(next)
    expect(await next.exited).toBe(0)
    const files = entriesOf(run.tmp).filter((f) => !f.includes("/") && orphans.includes(f))
    report({
      fault: "Node (`skyward run`) SIGKILLed while tasks run, 2 local nodes",
      happened: `${before.length} processes (agents, slots, forkservers, client) exited on their own; the next run removed the ${orphans.length} folders the dead one left`,
      detectSeconds: seconds,
      retried: "-",
      correct: "n/a",
      left: [...left, ...files.map((f) => `folder $TMPDIR/${f}`)]
    })
    expect(left).toEqual([])
    expect(files).toEqual([])
    expect(seconds).toBeLessThan(5)
    fs.rmSync(run.tmp, { recursive: true, force: true })
  })
})

