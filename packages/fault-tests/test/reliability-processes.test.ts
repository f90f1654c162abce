// Issue 24, items 1, 3, 5, 7 and 9: a task's processes end with its slot (the run never waits for
// them), a timed-out thread does not block the next call, a build lock whose owner died is taken at
// once (and a wait says what it waits for), no temporary file outlives an interrupted build or a
// killed agent, and KeyboardInterrupt / SystemExit inside a task come back as loky reports them.
import { execFile } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { ComputePool } from "@skyward/core"
import type { PoolEvent, PoolOptionsInput } from "@skyward/contracts"
import { ssh } from "@skyward/provider-ssh"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "../../transport-ssh/test/harness/hosts.js"
import {
  alive,
  descendants,
  entriesOf,
  fixtures,
  interrupt,
  isTag,
  leftoversOf,
  report,
  resultLines,
  runCli,
  settle,
  startCli,
  tempDir,
  venvPython,
  waitFor,
  type CliRun
} from "./support.js"

/** The SSH test host's processes (its sshd lives as long as this file's SSH tests): not leftovers. */
let sshHostProcesses: () => number[] = () => []
const runs: CliRun[] = []
afterEach(async () => {
  for (const run of runs.splice(0)) run.kill()
  const ours = () => {
    const host = new Set(sshHostProcesses())
    return descendants().filter((pid) => !host.has(pid))
  }
  expect(await settle(ours, 8_000)).toEqual([])
  expect(entriesOf(process.env.TMPDIR!).filter((e) => e.startsWith("skyward-"))).toEqual([])
})

/** `skyward run --json <args> <fixture> <scriptArgs>` on local nodes, killed after `timeoutMs`. */
const joblibRun = (args: ReadonlyArray<string>, script: string, options: { readonly timeoutMs?: number; readonly env?: NodeJS.ProcessEnv } = {}) =>
  runCli(["run", "--json", "--no-workdir", "--plugin", "joblib", ...args, path.join(fixtures, script)], { timeoutMs: options.timeoutMs ?? 60_000, ...(options.env ? { env: options.env } : {}) }).then(
    (run) => {
      runs.push(run)
      return run
    }
  )

type Bootstrapping = Extract<PoolEvent, { _tag: "NodeBootstrapping" }>
const bootLine =
  (pattern: RegExp) =>
  (event: PoolEvent): event is Bootstrapping =>
    event._tag === "NodeBootstrapping" && pattern.test(event.line)

beforeAll(async () => {
  // builds (or reuses) the environment once, so the tests time the faults, not pip
  await ComputePool.use({ nodes: 1, worker: { concurrency: 1 }, image: { pip: ["joblib"] } }, async () => undefined)
})

describe("item 1: a task starts a process that outlives it (sleep 300)", () => {
  for (const executor of ["process", "thread"] as const) {
    it(`${executor} slots: the run ends as soon as the work is done, and the sleep ends with it`, async () => {
      const run = await joblibRun(["--nodes", "1", "--concurrency", "2", "--executor", executor], "orphan_popen.py", { timeoutMs: 30_000 })
      const orphan = Number(/^result: orphan (\d+)$/m.exec(run.stdout)?.[1])
      const left = await leftoversOf(run, 2_000)
      report({ fault: `task leaves \`sleep 300\` running (${executor} slots, local)`, happened: `exit ${run.code} after ${run.seconds.toFixed(1)} s; sleep ${alive(orphan) ? "still running" : "ended"}`, correct: !alive(orphan), left })
      expect(run.code, run.stderr.slice(-2000)).toBe(0)
      expect(orphan).toBeGreaterThan(0)
      expect(alive(orphan)).toBe(false)
      expect(left).toEqual([])
      expect(run.seconds).toBeLessThan(15)
    })
  }
})

const sshUnavailable = sshdUnavailable() ?? netnsUnavailable()
describe.skipIf(sshUnavailable !== undefined)("item 1 over SSH (a network-namespace host)", () => {
  let hosts: TestHosts
  const options = (executor: "process" | "thread"): PoolOptionsInput => ({
    provider: ssh({ hosts: hosts.hosts.map((h) => ({ host: h.address, port: h.port, user: h.user, hostKey: h.hostKey })), key: hosts.keys.ed25519.file, knownHostsFiles: [], connectTimeout: 10 }),
    nodes: 1,
    worker: { concurrency: 2, executor },
    image: { files: { "orphan_funcs.py": path.join(fixtures, "orphan_funcs.py") } }
  })

  beforeAll(async () => {
    // the host's user must reach its keys: made under /tmp, not under this file's private 0700 TMPDIR
    const tmp = process.env.TMPDIR
    process.env.TMPDIR = "/tmp"
    try {
      hosts = await createHosts(1, "netns")
      sshHostProcesses = () => hosts.hosts.flatMap((h) => h.processes())
    } finally {
      process.env.TMPDIR = tmp
    }
    await ComputePool.use(options("process"), async () => undefined) // bootstraps the host once (cold)
  })
  afterAll(async () => {
    if (!hosts) return
    await hosts.teardown()
    sshHostProcesses = () => []
    expect(leftovers(hosts)).toEqual([])
  })

  for (const executor of ["process", "thread"] as const) {
    it(`${executor} slots: the pool closes at once and nothing of the task is left on the host`, async () => {
      let closing = 0
      const [orphan] = await ComputePool.use(options(executor), async (pool) => {
        const pids = await pool.map<number>("orphan_funcs:start_sleep", [300])
        closing = Date.now()
        return pids
      })
      const seconds = (Date.now() - closing) / 1000
      const left = await settle(() => hosts.hosts[0]!.sessions(), 3_000)
      report({ fault: `task leaves \`sleep 300\` running (${executor} slots, SSH)`, happened: `pool closed in ${seconds.toFixed(2)} s; sleep ${orphan} ${alive(orphan!) ? "still running" : "ended"}`, correct: !alive(orphan!), left })
      expect(left).toEqual([])
      expect(alive(orphan!)).toBe(false)
      expect(seconds).toBeLessThan(2)
    })
  }
})

describe("item 3: thread slots whose tasks timed out (a Python thread cannot be stopped)", () => {
  it("--timeout 2, two spinning tasks on 1 node x 2 threads: both time out, then the next call runs", async () => {
    const run = await joblibRun(["--nodes", "1", "--concurrency", "2", "--executor", "thread", "--timeout", "2"], "thread_spin.py", { timeoutMs: 30_000 })
    const first = /^first call: .*$/m.exec(run.stdout)?.[0]
    report({ fault: "2 spinning tasks, --timeout 2, thread executor 1 x 2, then another call", happened: `${first}; exit ${run.code} after ${run.seconds.toFixed(1)} s`, correct: run.code === 0, left: await leftoversOf(run, 2_000) })
    expect(run.code, run.stderr.slice(-2000)).toBe(0)
    expect(first).toBe("first call: TaskTimeoutError")
    expect(resultLines(run.stdout)).toEqual([`result: ${JSON.stringify([0, 1, 4, 9, 16, 25, 36, 49]).replace(/,/g, ", ")}`])
  })
})

describe("item 5: the environment build lock", () => {
  /** A run on the fresh cache `cache`, once it has taken the build lock and builds the environment. */
  const buildingRun = async (cache: string): Promise<CliRun> => {
    const run = startCli(["run", "--json", "--no-workdir", "--nodes", "1", path.join(fixtures, "ok.py")], { env: { XDG_CACHE_HOME: cache } })
    runs.push(run)
    await run.when(bootLine(/creating virtual environment/))
    return run
  }

  it("whose owner was killed is taken at once", async () => {
    const cache = tempDir("cache")
    const first = await buildingRun(cache)
    first.kill()
    await first.exited
    const second = startCli(["run", "--json", "--no-workdir", "--nodes", "1", path.join(fixtures, "ok.py")], { env: { XDG_CACHE_HOME: cache } })
    runs.push(second)
    const building = await second.when(bootLine(/creating virtual environment/), 20_000).then(
      () => (Date.now() - second.startedAt) / 1000,
      () => undefined
    )
    const code = await second.exited
    report({ fault: "Node killed while building an environment; the next run", happened: `took the lock after ${building?.toFixed(1) ?? "more than 20"} s; exit ${code}`, detectSeconds: building ?? "> 20 s", correct: building !== undefined && building < 5, left: [] })
    expect(building).toBeLessThan(5)
    expect(code, second.stderr.slice(-2000)).toBe(0)
    fs.rmSync(cache, { recursive: true, force: true })
  })

  it("held by a live run: the waiting run says whom it waits for", async () => {
    const cache = tempDir("cache")
    const first = await buildingRun(cache)
    const second = startCli(["run", "--json", "--no-workdir", "--nodes", "1", path.join(fixtures, "ok.py")], { env: { XDG_CACHE_HOME: cache } })
    runs.push(second)
    const waiting = await second.when(bootLine(/waiting/), 5_000).catch(() => undefined)
    const [codeFirst, codeSecond] = await Promise.all([first.exited, second.exited])
    report({ fault: "two runs build the same environment at once", happened: `the second said: ${waiting?.line ?? "nothing"}`, correct: waiting !== undefined, left: [] })
    const envs = path.join(cache, "skyward", "envs").replace(/[.*+?^${}()|[\]\\]/g, "\\$&")
    expect(waiting?.line).toMatch(new RegExp(`^waiting for another Skyward run \\(pid ${first.child.pid}\\) building ${envs}/[^/]+$`))
    expect([codeFirst, codeSecond]).toEqual([0, 0])
    expect(second.events.find(isTag("NodeBootstrapped"))?.cached).toBe(true)
    fs.rmSync(cache, { recursive: true, force: true })
  })
})

describe("item 7: temporary files", () => {
  it("Ctrl-C while pip installs: pip's temporary folders go too", async () => {
    const cache = tempDir("cache")
    const run = startCli(["run", "--json", "--no-workdir", "--nodes", "1", path.join(fixtures, "ok.py")], { env: { XDG_CACHE_HOME: cache } })
    runs.push(run)
    await waitFor("a pip temporary folder", () => entriesOf(run.tmp).some((entry) => path.basename(entry).startsWith("pip-")), 30_000, 10)
    const { code } = await interrupt(run)
    const left = await leftoversOf(run)
    report({ fault: "SIGINT while pip installs (fresh cache)", happened: `exit ${code}`, correct: "n/a", left })
    expect(left).toEqual([])
    fs.rmSync(cache, { recursive: true, force: true })
  })

  it("a TMPDIR of 49+ characters (macOS's): a killed agent leaves no socket or task file in it", async () => {
    const tmp = path.join(tempDir("long"), "T".repeat(12))
    const padded = `${tmp}${"x".repeat(Math.max(0, 49 - tmp.length))}`
    fs.mkdirSync(padded, { mode: 0o700 })
    const run = startCli(["run", "--json", "--no-workdir", "--nodes", "1", "--concurrency", "2", "--retries", "0", "--plugin", "joblib", path.join(fixtures, "tmp_litter.py")], { env: { TMPDIR: padded } })
    runs.push(run)
    const ready = await run.when(isTag("NodeReady"))
    await waitFor("2 running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 2, 30_000)
    await waitFor("the tasks' temporary files", () => run.events.filter((e) => e._tag === "Log" && e.line === "littered").length >= 2, 10_000)
    process.kill(ready.pid, "SIGKILL")
    const code = await run.exited
    const left = [...(await leftoversOf(run)), ...entriesOf(padded).map((e) => `file ${e}`), ...shortTmpOf(run).map((e) => `folder /tmp/${e}`)]
    report({ fault: `agent SIGKILLed with TMPDIR of ${padded.length} characters`, happened: `exit ${code}`, correct: "n/a", left })
    expect(code).toBe(3)
    expect(left).toEqual([])
    fs.rmSync(path.dirname(padded), { recursive: true, force: true })
  })
})

/** Short private temporary folders under /tmp of a run's nodes. */
const shortTmpOf = (run: CliRun): string[] => fs.readdirSync("/tmp").filter((name) => name.startsWith(`skyward-node0-tmp-${run.child.pid}-`))

describe("item 9: KeyboardInterrupt and SystemExit inside a task, against loky", () => {
  const script = path.join(fixtures, "task_interrupts.py")
  let loky: { code: number | null; lines: string[] }
  beforeAll(async () => {
    loky = await new Promise((resolve) =>
      // a script that dies of an uncaught KeyboardInterrupt kills itself with SIGINT: a shell says 130
      execFile(venvPython, [script], { timeout: 60_000 }, (error, stdout) =>
        resolve({ code: error === null ? 0 : error.signal === "SIGINT" ? 130 : typeof error.code === "number" ? error.code : null, lines: resultLines(stdout) })
      )
    )
  })

  for (const executor of ["process", "thread"] as const) {
    it(`${executor} slots: each comes back as loky's does, the pool serves the next call, an uncaught one ends the script as loky's does`, async () => {
      const run = await joblibRun(["--nodes", "1", "--concurrency", "2", "--executor", executor, "--quiet"], "task_interrupts.py")
      const lines = resultLines(run.stdout)
      report({ fault: `KeyboardInterrupt / SystemExit / SIGINT in a task (${executor} slots)`, happened: `exit ${run.code} (loky ${loky.code}); ${lines.filter((l) => !l.includes("next call")).join("; ")}`, correct: JSON.stringify(lines) === JSON.stringify(loky.lines), left: await leftoversOf(run, 2_000) })
      expect(loky.lines).toHaveLength(10)
      expect(lines).toEqual(loky.lines)
      expect(run.code).toBe(loky.code)
    })
  }
})
