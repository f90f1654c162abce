// Ctrl-C (SIGINT to `skyward run`) on local nodes while the pool is being made (a fresh cache: the
// environment is still being built) and while tasks run: exit 130 within 10 s, every process,
// socket and folder gone.
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
})
