// The faults that need real SSH hosts, on network-namespace hosts of this machine: a remote agent
// SIGKILLed, a link cut and restored, the Node process SIGKILLed, and the private key as a canary.
import { spawn } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { ComputePool } from "@skyward/core"
import type { PoolEvent, PoolOptionsInput } from "@skyward/contracts"
import { ssh } from "@skyward/provider-ssh"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { agentProcesses, createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "../../transport-ssh/test/harness/hosts.js"
import { fixtures, killAll, report, runCli, settle, waitFor, type CliRun } from "./support.js"

const unavailable = sshdUnavailable() ?? netnsUnavailable()
if (unavailable) console.warn(`skipping the SSH faults: ${unavailable}`)
const funcs = path.join(fixtures, "fault_funcs.py")

describe.skipIf(unavailable !== undefined)("faults on 3 network-namespace SSH hosts", () => {
  let hosts: TestHosts
  let runs: CliRun[] = []
  const providerOptions = () => ({
    hosts: hosts.hosts.map((h) => ({ host: h.address, port: h.port, user: h.user, hostKey: h.hostKey })),
    key: hosts.keys.ed25519.file,
    knownHostsFiles: [],
    connectTimeout: 10
  })
  const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
    provider: ssh(providerOptions()),
    nodes: 3,
    worker: { concurrency: 2 },
    image: { files: { "fault_funcs.py": funcs } },
    ...extra
  })
  const noAgents = () => hosts.hosts.flatMap((h) => agentProcesses(h))

  beforeAll(async () => {
    // the hosts' users must reach their keys: make them under /tmp, not under our private 0700 TMPDIR
    const tmp = process.env.TMPDIR
    process.env.TMPDIR = "/tmp"
    try {
      hosts = await createHosts(3, "netns")
    } finally {
      process.env.TMPDIR = tmp
    }
    // bootstraps every host once (cold), so the tests below time the faults
    const started = Date.now()
    await ComputePool.use(options(), async () => undefined)
    console.info(`cold bootstrap of 3 namespace hosts: ${((Date.now() - started) / 1000).toFixed(1)} s`)
  })
  afterEach(async () => {
    for (const run of runs) run.kill()
    runs = []
    expect(await settle(noAgents, 25_000)).toEqual([])
  })
  afterAll(async () => {
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("a remote agent SIGKILLed mid-run: node lost, its tasks re-run elsewhere, results exact", async () => {
    const events: Array<{ at: number; event: PoolEvent }> = []
    let killedAt = 0
    const results = await ComputePool.use(
      options(),
      async (pool) => {
        const running = pool.map<number>("fault_funcs:slow_square", Array.from({ length: 48 }, (_, i) => i))
        await waitFor("a task done on node 1", () => events.some((e) => e.event._tag === "TaskDone" && e.event.node === 1), 20_000)
        killedAt = Date.now()
        killAll(agentProcesses(hosts.hosts[1]!))
        return running
      },
      (event) => events.push({ at: Date.now(), event })
    )
    expect(results).toEqual(Array.from({ length: 48 }, (_, i) => i * i))
    const lost = events.filter((e) => e.event._tag === "NodeLost")
    expect(lost.map((e) => (e.event as { node: number }).node)).toEqual([1])
    const retried = events.filter((e) => e.event._tag === "TaskRetried").length
    report({ fault: "remote agent SIGKILL, 1 of 3 namespace SSH hosts", happened: `NodeLost node 1 (${(lost[0]!.event as { reason: string }).reason}); map of 48 exact`, detectSeconds: (lost[0]!.at - killedAt) / 1000, retried, correct: true, left: [] })
  })

  it("a link cut and restored: lost after the keepalive window, tasks re-run, no duplicate results", async () => {
    const victim = hosts.hosts[2]!
    const done = new Map<number, number>()
    const values = new Map<number, unknown>()
    let cutAt = 0
    let lostAt = 0
    let reason = ""
    let retried = 0
    try {
      await ComputePool.use(
        options({ heartbeatTimeout: 60 }), // the SSH keepalive, not the heartbeat, must notice
        (pool) =>
          Promise.all(
            Array.from(
              { length: 48 },
              (_, i) =>
                new Promise<void>((resolve, reject) =>
                  pool.dispatch(
                    { kind: "call", fn: "fault_funcs:slow_square", args: [i] },
                    {
                      onDone: (outcome) => {
                        done.set(i, (done.get(i) ?? 0) + 1)
                        values.set(i, outcome.value)
                        resolve()
                      },
                      onFailed: (error) => reject(error)
                    }
                  )
                )
            )
          ),
        (event) => {
          if (event._tag === "TaskDone" && event.node === 2 && cutAt === 0) {
            cutAt = Date.now()
            victim.cutLink()
          }
          if (event._tag === "TaskRetried") retried++
          if (event._tag === "NodeLost" && lostAt === 0) {
            lostAt = Date.now()
            reason = event.reason
            victim.restoreLink() // back before the map ends: a late answer from that node must not count twice
          }
        }
      )
    } finally {
      victim.restoreLink()
    }
    expect([...done.values()].every((n) => n === 1)).toBe(true)
    expect(done.size).toBe(48)
    expect([...values].every(([i, v]) => v === i * i)).toBe(true)
    const seconds = (lostAt - cutAt) / 1000
    report({ fault: "link cut (veth down) then restored, 1 of 3 namespace SSH hosts", happened: `NodeLost node 2 (${reason}); 48 results, each delivered once`, detectSeconds: seconds, retried, correct: true, left: [] })
    expect(reason).toMatch(/no answer to keepalives/)
    expect(seconds).toBeLessThan(12)
  })

  it("the Node process SIGKILLed: every remote agent exits when its SSH channel drops", async () => {
    const spec = { provider: providerOptions(), nodes: 3, image: { files: { "fault_funcs.py": funcs } } }
    const child = spawn(process.execPath, [path.join(fixtures, "ssh-pool.mjs"), JSON.stringify(spec)], { stdio: ["ignore", "pipe", "inherit"], env: process.env })
    try {
      let out = ""
      child.stdout.on("data", (c: Buffer) => (out += c.toString()))
      await waitFor("tasks running on every host", () => out.includes("running"), 60_000)
      const before = noAgents().length
      expect(hosts.hosts.every((h) => agentProcesses(h).length > 0)).toBe(true)
      const killedAt = Date.now()
      child.kill("SIGKILL")
      const left = await settle(noAgents, 20_000)
      const seconds = (Date.now() - killedAt) / 1000
      report({ fault: "Node SIGKILLed with a pool on 3 namespace SSH hosts", happened: `${before} remote agent/slot processes exited when their channel dropped`, detectSeconds: seconds, correct: "n/a", left })
      expect(left).toEqual([])
    } finally {
      child.kill("SIGKILL")
    }
  })

  it("the private key never appears in the output of a failing run over SSH, nor in a bad-key error", async () => {
    const list = hosts.hosts.map((h) => `${h.user}@${h.address}:${h.port}`).join(",")
    const key = hosts.keys.ed25519
    const keyLines = key.privateText.split("\n").filter((l) => l.length > 20 && !l.startsWith("-----"))
    const failing = await runCli(["run", "--json", "--provider", "ssh", "--hosts", list, "--identity", key.file, "--known-hosts", hosts.knownHostsFile, "--concurrency", "1", path.join(fixtures, "fail.py")])
    runs.push(failing)
    expect(failing.code).toBe(1)
    expect(failing.stderr).toMatch(/planned failure of the script/)
    // a key file that is not a key, holding a canary line
    const bad = path.join(hosts.dir, "bad_key")
    fs.writeFileSync(bad, "-----BEGIN OPENSSH PRIVATE KEY-----\nQ0FOQVJZLXByaXZhdGUta2V5LWxpbmUtNDI0Mg==CANARYKEYLINE4242\n-----END OPENSSH PRIVATE KEY-----\n", { mode: 0o600 })
    const badKey = await runCli(["run", "--json", "--provider", "ssh", "--hosts", list, "--identity", bad, "--known-hosts", hosts.knownHostsFile, path.join(fixtures, "ok.py")])
    runs.push(badKey)
    expect(badKey.code).not.toBe(0)
    const output = failing.stdout + failing.stderr + badKey.stdout + badKey.stderr
    const leaked = [...keyLines, "CANARYKEYLINE4242", "Q0FOQVJZLXByaXZhdGUta2V5"].filter((l) => output.includes(l))
    report({ fault: "canary: the SSH private key, a failing run and a bad key file", happened: `${output.length} bytes scanned; bad key: ${badKey.stderr.split("\n").find((l) => l.startsWith("skyward:"))?.slice(0, 120)}; leaked: ${leaked.length === 0 ? "nothing" : leaked.join(", ")}`, correct: leaked.length === 0, left: [] })
    expect(leaked).toEqual([])
  })
})
