import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { bin, skyward } from "./cli.js"
import { pipOptions } from "./loky.js"
import { processesMarked } from "./processes.js"

// Named pools (skyward up / ls / attach / run --pool / down) on local nodes, each test in its own
// state folder (XDG_STATE_HOME) and working folder; every pool is closed and its processes checked gone.
// The pool's environment is the one the examples' tests make (same pins, sklearn): cached.
const shape = ["--nodes", "2", "--concurrency", "2", "--plugin", "sklearn", ...pipOptions, "--quiet"]

const SCRIPT = `
import os, sys, time
from joblib import Parallel, delayed
def f(i, label, seconds):
    time.sleep(seconds)
    if i == 0:
        print("task print of", label, flush=True)
    if label == "failing" and i == 1:
        raise ValueError("task 1 of failing fails on purpose")
    return os.getpid()
pids = Parallel(n_jobs=-1)(delayed(f)(i, sys.argv[1], float(sys.argv[2])) for i in range(int(sys.argv[3])))
print(sys.argv[1], "done", len(pids), "tasks in", len(set(pids)), "processes; client", os.getpid(), "at", time.time())
`

const ELASTIC = `
import time
from joblib import Parallel, delayed, effective_n_jobs
def f(i):
    time.sleep(0.2)
    return i * i
first = effective_n_jobs(-1)
out = Parallel(n_jobs=-1)(delayed(f)(i) for i in range(400))
second = effective_n_jobs(-1)
print("exact", out == [i * i for i in range(400)], "n_jobs=-1 at the first call", first, "at the second", second)
`

interface Sandbox {
  readonly dir: string
  readonly env: NodeJS.ProcessEnv
  readonly marker: string
  readonly cli: (args: ReadonlyArray<string>) => ReturnType<typeof skyward>
}

/** A folder with the script, its own state folder, and a marker in the environment of every process the pool starts. */
const withSandbox = async (body: (sandbox: Sandbox) => Promise<void>): Promise<void> => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-pools-"))
  const marker = `SKYWARD_POOLS_TEST=${path.basename(dir)}`
  const env = { ...process.env, XDG_STATE_HOME: path.join(dir, "state"), SKYWARD_POOLS_TEST: path.basename(dir), VIRTUAL_ENV: "", AWS_REGION: "", AWS_DEFAULT_REGION: "", AWS_PROFILE: "" }
  fs.mkdirSync(path.join(dir, "project"))
  fs.writeFileSync(path.join(dir, "project", "work.py"), SCRIPT)
  fs.writeFileSync(path.join(dir, "project", "elastic.py"), ELASTIC)
  const cli = (args: ReadonlyArray<string>) => skyward(args, { cwd: path.join(dir, "project"), env })
  try {
    await body({ dir, env, marker, cli })
  } finally {
    await skyward(["down", "--all"], { env })
    for (const pid of processesMarked(marker)) process.kill(pid, "SIGKILL")
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

const waitFor = async <A>(what: string, check: () => A | undefined, ms: number): Promise<A> => {
  const until = Date.now() + ms
  for (;;) {
    const value = check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}

const lsJson = async (sandbox: Sandbox) => {
  const ls = await sandbox.cli(["ls", "--json"])
  expect(ls.code, ls.stderr).toBe(0)
  return ls.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>)
}

describe("named pools: skyward up, ls, attach, run --pool, down", () => {
  it("a pool stays up between scripts; scripts at once share it and keep their output and failures apart; down leaves nothing", async () => {
    await withSandbox(async (sandbox) => {
      const up = await sandbox.cli(["up", "--name", "grid", ...shape])
      expect(up.code, up.stderr).toBe(0)
      expect(up.stdout).toContain("pool grid is up: 2 nodes, 4 slots (local)")
      expect(up.stdout).toContain("skyward run --pool grid script.py")

      // private: 0700 folders, 0600 files, readable by no other user
      const folder = path.join(sandbox.dir, "state/skyward/pools/grid")
      expect(fs.statSync(path.dirname(folder)).mode & 0o777).toBe(0o700)
      expect(fs.statSync(folder).mode & 0o777).toBe(0o700)
      for (const file of fs.readdirSync(folder)) expect(fs.statSync(path.join(folder, file)).mode & 0o077, file).toBe(0)
      // (another user is kept out too: packages/fault-tests/test/security.test.ts)

      const [listed] = await lsJson(sandbox)
      expect(listed).toMatchObject({ kind: "pool", name: "grid", provider: "local", nodes: 2, slots: 4, busySlots: 0, clients: 0 })
      // its dashboard: printed by up, shown by ls, on 127.0.0.1 behind its token (the page itself: packages/dashboard's test)
      const dashboard = String(listed!.dashboard)
      expect(dashboard).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/\?token=[\w-]{20,}$/)
      expect(up.stdout).toContain(`its dashboard:       ${dashboard}`)
      expect((await sandbox.cli(["ls"])).stdout).toContain(`dashboard of grid: ${dashboard}`)
      expect((await fetch(dashboard)).status).toBe(200)
      expect((await fetch(dashboard.replace(/\?token=.*/, "events"))).status).toBe(403)
      const attach = await sandbox.cli(["attach", "grid"])
      expect(JSON.parse(attach.stdout)).toMatchObject({ name: "grid", totalSlots: 4, env: { SKYWARD_TOKEN: expect.any(String) } })

      // a long script first, a short one while it holds every slot: the short one gets its share
      const long = sandbox.cli(["run", "--pool", "grid", "work.py", "long", "0.5", "80"])
      let longEnded = false
      void long.then((r) => {
        longEnded = true
        if (r.code !== 0) console.error(r.stderr)
      })
      await waitFor("the long script's tasks on every slot", () => (fs.existsSync(path.join(folder, "status.json")) && JSON.parse(fs.readFileSync(path.join(folder, "status.json"), "utf8")).busySlots === 4 || longEnded ? true : undefined), 30_000)
      const [during] = await lsJson(sandbox)
      expect(during).toMatchObject({ clients: 1 })
      expect(during!.busySlots).toBeGreaterThan(0)
      const [short, failing] = await Promise.all([
        sandbox.cli(["run", "--pool", "grid", "work.py", "short", "0.4", "6"]),
        sandbox.cli(["run", "--pool", "grid", "work.py", "failing", "0.1", "4"])
      ])
      const longDone = await long
      // a failure is its own script's: the others never hear of it
      expect(failing.code).toBe(1)
      expect(failing.stderr).toContain("ValueError: task 1 of failing fails on purpose")
      for (const other of [short, longDone]) expect(other.stderr).not.toContain("fails on purpose")
      expect(short.code, short.stderr).toBe(0)
      expect(longDone.code, longDone.stderr).toBe(0)
      const finishedAt = (out: string) => Number(out.trim().split(" ").at(-1))
      expect(finishedAt(short.stdout)).toBeLessThan(finishedAt(longDone.stdout))
      expect(short.stdout).toContain("short done 6 tasks")
      expect(longDone.stdout).toContain("long done 80 tasks")
      // each script sees its own tasks' prints, not the other's
      expect(short.stdout).toContain("task print of short")
      expect(short.stdout).not.toContain("task print of long")
      expect(longDone.stdout).not.toContain("task print of short")

      const refused = await sandbox.cli(["run", "--pool", "grid", "--nodes", "3", "work.py", "x", "0", "1"])
      expect(refused.code).toBe(2)
      expect(refused.stderr).toContain("--nodes with --pool")
      const taken = await sandbox.cli(["up", "--name", "grid", ...shape])
      expect(taken.code).toBe(2)
      expect(taken.stderr).toContain("a pool named grid is up already")

      const pids = processesMarked(sandbox.marker)
      expect(pids.length).toBeGreaterThan(2) // the pool's process and its agents
      const down = await sandbox.cli(["down", "grid"])
      expect(down.code, down.stderr).toBe(0)
      expect(down.stdout).toContain("closed pool grid")
      expect(processesMarked(sandbox.marker)).toEqual([])
      await expect(fetch(dashboard)).rejects.toThrow() // nothing listens any more
      expect(fs.readdirSync(path.join(sandbox.dir, "state/skyward/pools"))).toEqual([])
      const gone = await sandbox.cli(["run", "--pool", "grid", "work.py", "x", "0", "1"])
      expect(gone.code).toBe(1)
      expect(gone.stderr).toContain("no pool named grid is up")
    })
  })

  it("--nodes 1..4: grows to 4 while 400 tasks of 0.2 s wait, n_jobs=-1 follows, then shrinks to 1 after --scale-down-after; the dashboard shows why", async () => {
    await withSandbox(async (sandbox) => {
      const elastic = ["--nodes", "1..4", "--scale-down-after", "3s", ...shape.filter((_, i) => i > 1)]
      const up = await sandbox.cli(["up", "--name", "elastic", ...elastic])
      expect(up.code, up.stderr).toBe(0)
      expect((await lsJson(sandbox))[0]).toMatchObject({ nodes: 1, slots: 2 })
      const run = await sandbox.cli(["run", "--pool", "elastic", "elastic.py"])
      expect(run.code, run.stderr).toBe(0)
      // the first call began on the one node's 2 slots; the next one sees the 4 nodes' 8
      expect(run.stdout).toContain("exact True n_jobs=-1 at the first call 2 at the second 8")
      const shrunk = await waitFor(
        "the pool back at 1 node",
        () => {
          const status = JSON.parse(fs.readFileSync(path.join(sandbox.dir, "state/skyward/pools/elastic/status.json"), "utf8")) as { nodes: number; totalSlots: number }
          return status.nodes === 1 ? status : undefined
        },
        30_000
      )
      expect(shrunk.totalSlots).toBe(2)
      const [listed] = await lsJson(sandbox)
      expect(listed).toMatchObject({ nodes: 1, slots: 2 })
      // the dashboard's state: each decision with its reason
      const events = await fetch(String(listed!.dashboard).replace("/?", "/events?"))
      const reader = events.body!.getReader()
      let text = ""
      while (!text.includes("\n\n")) text += new TextDecoder().decode((await reader.read()).value)
      await reader.cancel()
      const state = JSON.parse(/^data: (.*)$/m.exec(text)![1]!) as { scaling: Array<{ direction: string; nodes: number[]; reason: string }>; nodes: Array<{ index: number; state: string }> }
      expect(state.scaling.filter((d) => d.direction === "up").flatMap((d) => d.nodes).sort()).toEqual([1, 2, 3])
      expect(state.scaling.filter((d) => d.direction === "down").flatMap((d) => d.nodes).sort()).toEqual([1, 2, 3])
      expect(state.scaling.at(-1)!.reason).toMatch(/^\d+ tasks queued: ~\d+(\.\d)?[sm] of work on 2 slots; a node gets ready in/)
      expect(state.nodes.map((n) => n.state)).toEqual(["ready", "removed", "removed", "removed"])
      const down = await sandbox.cli(["down", "elastic"])
      expect(down.code, down.stderr).toBe(0)
      expect(processesMarked(sandbox.marker)).toEqual([])
    })
  })

  it("closes itself after --idle; a pool whose process was killed leaves no agents and drops out of ls", async () => {
    await withSandbox(async (sandbox) => {
      const idle = await sandbox.cli(["up", "--name", "brief", "--idle", "2s", ...shape])
      expect(idle.code, idle.stderr).toBe(0)
      expect(idle.stdout).toContain("it closes after 2s without use")
      const killed = await sandbox.cli(["up", "--name", "doomed", ...shape])
      expect(killed.code, killed.stderr).toBe(0)
      const doomed = (await lsJson(sandbox)).find((p) => p.name === "doomed")!
      process.kill(doomed.pid as number, "SIGKILL")
      await waitFor("the idle pool to close and the killed one's agents to exit", () => (processesMarked(sandbox.marker).length === 0 ? true : undefined), 30_000)
      expect(await lsJson(sandbox)).toEqual([])
    })
  })

  it("up --foreground --json: one JSON line when ready; the pool closes when its standard input closes", async () => {
    await withSandbox(async (sandbox) => {
      const child = spawn(process.execPath, [bin, "up", "--foreground", "--json", "--name", "held", ...shape], {
        cwd: path.join(sandbox.dir, "project"),
        env: sandbox.env,
        stdio: ["pipe", "pipe", "pipe"]
      })
      try {
        let out = ""
        let err = ""
        child.stdout.on("data", (chunk) => (out += chunk))
        child.stderr.on("data", (chunk) => (err += chunk))
        // a guard against a hang, not a speed check: a fresh clone's busiest minute once took it past 60 s
        const line = await waitFor("the ready line", () => (out.includes("\n") ? out.split("\n")[0] : undefined), 150_000).catch((e: Error) => {
          throw new Error(`${e.message}; its stderr: ${err.slice(-3000)}`)
        })
        expect(JSON.parse(line!)).toMatchObject({ name: "held", totalSlots: 4, imports: ["skyward_joblib.activate"] })
        const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)))
        child.stdin.end()
        expect(await exited).toBe(0)
        expect(processesMarked(sandbox.marker)).toEqual([])
      } finally {
        child.kill("SIGKILL")
      }
    })
  })
})
