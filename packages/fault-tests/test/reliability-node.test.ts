// Issue 24, items 2, 6 and 8: the Node process suspended (the pool's own time does not count
// against the nodes), a node lost for silence is ended with its slots, and `skyward run`'s exit
// code follows the signal (or the script, when it ended before the signal).
import fs from "node:fs"
import path from "node:path"
import { ComputePool } from "@skyward/core"
import type { PoolEvent, PoolOptionsInput } from "@skyward/contracts"
import { ssh } from "@skyward/provider-ssh"
import { beforeAll, describe, expect, it } from "vitest"
import { agentProcesses, createHosts, leftovers, netnsUnavailable, sshdUnavailable } from "../../transport-ssh/test/harness/hosts.js"
import {
  alive,
  descendants,
  fixtures,
  isTag,
  killAll,
  leftoversOf,
  settle,
  sleep,
  startCli,
  tempDir,
  trackRuns,
  waitFor
} from "./support.js"

const runs = trackRuns()

/** Writes `text` as `name` in a fresh folder of this file's TMPDIR; returns its path. */
const writeFile = (name: string, text: string): string => {
  const file = path.join(tempDir("reliability"), name)
  fs.writeFileSync(file, text)
  return file
}

const joblibRun = (script: string, extra: ReadonlyArray<string> = []) => {
  const run = startCli(["run", "--json", "--nodes", "3", "--concurrency", "2", "--plugin", "joblib", ...extra, script])
  runs.push(run)
  return run
}

type NodeReady = Extract<PoolEvent, { _tag: "NodeReady" }>

beforeAll(async () => {
  // builds (or reuses) the environment once, so the tests time the faults, not pip
  await ComputePool.use({ nodes: 1, worker: { concurrency: 1 }, image: { pip: ["joblib"] } }, async () => undefined)
})

describe("the Node process suspended (Ctrl-Z, then fg)", () => {
  it("for longer than heartbeatTimeout: no node is lost, the joblib call succeeds", async () => {
    const config = writeFile("skyward.config.json", JSON.stringify({ heartbeatTimeout: 2 }))
    const script = writeFile(
      "short_tasks.py",
      "import time\nfrom joblib import Parallel, delayed\n" +
        "def work(i):\n    time.sleep(0.05)\n    return i\n" +
        "print('result:', sum(Parallel(n_jobs=-1, batch_size=1)(delayed(work)(i) for i in range(200))), flush=True)\n"
    )
    const run = joblibRun(script, ["--config", config])
    await waitFor("every slot busy", () => run.events.filter(isTag("TaskStarted")).length >= 6, 60_000, 10)
    run.child.kill("SIGSTOP")
    // 1.5 x the heartbeatTimeout: a watch that counted the time it was stopped would lose every node
    await sleep(3_000)
    run.child.kill("SIGCONT")
    expect(await run.exited, run.stderr.slice(-2000)).toBe(0)
    expect(run.stdout).toContain(`result: ${(199 * 200) / 2}`)
    expect(run.events.filter(isTag("NodeLost"))).toEqual([])
    expect(await leftoversOf(run)).toEqual([])
  })
})

/**
 * Freezes (SIGSTOP) the agent of node 1 (`pids` lists its processes) under a pool of 2 nodes x 2
 * with a 2 s heartbeatTimeout; once it is lost, wakes it (as on a laptop that slept): every process
 * of it must end while the pool runs on with node 0.
 */
const expectLostAgentEnded = async (provider: Partial<PoolOptionsInput>, pids: (agent: number) => number[]) => {
  const ready: NodeReady[] = []
  const lost: string[] = []
  const options: PoolOptionsInput = {
    nodes: 2,
    worker: { concurrency: 2 },
    image: { files: { "fault_funcs.py": path.join(fixtures, "fault_funcs.py") } },
    heartbeatTimeout: 2,
    ...provider
  }
  await ComputePool.use(
    options,
    async (pool) => {
      const agent = ready.find((e) => e.node === 1)!.pid
      const places = await pool.map<[number, number, number, number]>("fault_funcs:where", [0, 1, 2, 3, 4, 5, 6, 7])
      const slots = places.filter(([, node]) => node === 1).map(([, , , pid]) => pid)
      const family = pids(agent)
      expect(slots.length).toBeGreaterThan(0)
      expect(family).toEqual(expect.arrayContaining([agent, ...slots]))
      killAll([agent], "SIGSTOP")
      await waitFor("NodeLost", () => lost.length > 0, 10_000)
      killAll([agent], "SIGCONT")
      expect(await settle(() => family.filter(alive), 8_000)).toEqual([])
      expect(await pool.map("fault_funcs:square", [1, 2, 3])).toEqual([1, 4, 9])
    },
    (event) => {
      if (event._tag === "NodeReady") ready.push(event)
      if (event._tag === "NodeLost") lost.push(event.reason)
    }
  )
  expect(lost).toEqual(["no heartbeat for 2s"])
}

describe("a node lost for missing heartbeats is ended with its slots (even when it resumes), while the pool runs on", () => {
  it("local", () => expectLostAgentEnded({}, (agent) => [agent, ...descendants(agent)]))

  const unavailable = sshdUnavailable() ?? netnsUnavailable()
  it.skipIf(unavailable !== undefined)("over SSH (network-namespace hosts)", async () => {
    // the hosts' users must reach their keys: make them under /tmp, not under our private 0700 TMPDIR
    const tmp = process.env.TMPDIR
    process.env.TMPDIR = "/tmp"
    const hosts = await createHosts(2, "netns").finally(() => (process.env.TMPDIR = tmp))
    try {
      const provider = ssh({
        hosts: hosts.hosts.map((h) => ({ host: h.address, port: h.port, user: h.user, hostKey: h.hostKey })),
        key: hosts.keys.ed25519.file,
        knownHostsFiles: [],
        connectTimeout: 10
      })
      await expectLostAgentEnded({ provider }, () => agentProcesses(hosts.hosts[1]!))
    } finally {
      await hosts.teardown()
    }
    expect(leftovers(hosts)).toEqual([])
  })
})

describe("skyward run's exit code follows the signal", () => {
  it("SIGTERM while tasks run: 143", async () => {
    const run = joblibRun(path.join(fixtures, "sleepy.py"))
    await run.whenOutput("started")
    await waitFor("running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 6, 30_000)
    run.child.kill("SIGTERM")
    expect(await run.exited, run.stderr.slice(-2000)).toBe(143)
    expect(await leftoversOf(run)).toEqual([])
  })

  it("a client script killed by SIGTERM: 143", async () => {
    const script = writeFile("self_term.py", "import os, signal\nos.kill(os.getpid(), signal.SIGTERM)\n")
    const run = startCli(["run", "--json", "--nodes", "1", "--concurrency", "1", script])
    runs.push(run)
    expect(await run.exited, run.stderr.slice(-2000)).toBe(143)
    expect(await leftoversOf(run)).toEqual([])
  })

  it("a script that ended (exit 3) before Ctrl-C, while the pool closes: 3", async () => {
    const script = writeFile(
      "ends_3.py",
      "import os, sys, time\nfrom joblib import Parallel, delayed\n" +
        "Parallel(n_jobs=-1)(delayed(abs)(-i) for i in range(6))\n" +
        "print('bye', os.getpid(), flush=True)\ntime.sleep(1)\nsys.exit(3)\n"
    )
    const run = joblibRun(script)
    await run.whenOutput("bye")
    const scriptPid = Number(/bye (\d+)/.exec(run.stdout)![1])
    // frozen agents hold the pool's closing for their grace period: the signal lands in it
    const agents = run.events.filter(isTag("NodeReady")).map((e) => e.pid)
    killAll(agents, "SIGSTOP")
    // reaped, not just a zombie: Node has seen the script end (libuv reaps and reports in one step)
    await waitFor("Node to reap the script", () => !fs.existsSync(`/proc/${scriptPid}`), 10_000, 10)
    run.child.kill("SIGINT")
    expect(await run.exited, run.stderr.slice(-2000)).toBe(3)
    expect(await leftoversOf(run)).toEqual([])
  })
})
