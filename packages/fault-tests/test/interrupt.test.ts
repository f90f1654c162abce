// Ctrl-C (SIGINT to `skyward run`) on local nodes while the pool is being made (a fresh cache: the
// environment is still being built) and while tasks run: exit 130 within 10 s, every process,
// socket and folder gone; from a terminal (SIGINT to the whole process group: skyward, the script),
// one line says so and nothing else is printed.
import fs from "node:fs"
import path from "node:path"
import { afterEach, describe, expect, it } from "vitest"
import { entriesOf, fixtures, interrupt, isTag, leftoversOf, processesMarked, report, startCli, tempDir, waitFor, type CliRun } from "./support.js"

let runs: CliRun[] = []
afterEach(() => {
  for (const run of runs) run.kill()
  runs = []
})

// Ctrl-C on EC2 (while instances are provisioned, while nodes bootstrap, while tasks run, with no
// instance, security group or key pair left in the emulator) is in ec2.test.ts, next to its moto.
describe("Ctrl-C", () => {
  it("while bootstrapping (a fresh cache: venv and pip running): exit 130 within 10 s, nothing left", async () => {
    const cache = tempDir("cache")
    const run = startCli(["run", "--json", "--nodes", "2", "--plugin", "joblib", path.join(fixtures, "ok.py")], { env: { XDG_CACHE_HOME: cache } })
    runs.push(run)
    await run.when(isTag("NodeBootstrapping"), 60_000)
    // let venv / pip get going (their children included)
    await waitFor("pip or venv running", () => processesMarked(run.marker).length >= 2, 20_000, 20)
    const { code, seconds, before } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    const left = await leftoversOf(run)
    const envs = path.join(cache, "skyward", "envs")
    const cacheLeft = fs.existsSync(envs) ? fs.readdirSync(envs).map((d) => `cache ${d}`) : []
    report({ fault: "SIGINT to `skyward run` while bootstrapping (fresh cache)", happened: `exit ${code}; ${before} processes (venv/pip) stopped`, detectSeconds: seconds, correct: "n/a", left: [...left, ...cacheLeft] })
    expect(left).toEqual([])
    expect(cacheLeft).toEqual([])
    fs.rmSync(cache, { recursive: true, force: true })
  })

  it("while tasks run: exit 130 within 10 s, nothing left", async () => {
    const run = startCli(["run", "--json", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", path.join(fixtures, "sleepy.py")])
    runs.push(run)
    await run.whenOutput("started")
    await waitFor("4 running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 4, 30_000)
    const { code, seconds, before } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    const left = await leftoversOf(run)
    report({ fault: "SIGINT to `skyward run` while tasks run (2 nodes x 2)", happened: `exit ${code}; ${before} processes stopped`, detectSeconds: seconds, correct: "n/a", left })
    expect(left).toEqual([])
    expect(entriesOf(run.tmp)).toEqual([])
  })

  it("from a terminal (SIGINT to the process group) while tasks run: exit 130, one line on stderr, nothing left", async () => {
    const run = startCli(["run", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", path.join(fixtures, "sleepy.py")], { terminal: true })
    runs.push(run)
    await run.whenOutput("started")
    // 2 agents and 4 slots (the script's process too, and its bridge)
    await waitFor("the slots running", () => processesMarked(run.marker).length >= 7, 30_000)
    await waitFor("the tasks queued", () => run.stderr.includes("skyward: tasks:"), 10_000)
    const { code, seconds, before, stderrAfter } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    // no traceback, no "node 0: LOST", no task counts: the one line
    expect(stderrAfter).toBe("skyward: interrupted; stopped 2 nodes (4 task slots), removed their temporary folders\n")
    const left = await leftoversOf(run)
    report({ fault: "Ctrl-C in a terminal (SIGINT to the process group) while tasks run", happened: `exit ${code}; ${before} processes stopped; stderr: ${JSON.stringify(stderrAfter.trim())}`, detectSeconds: seconds, correct: "n/a", left })
    expect(left).toEqual([])
  })
})
