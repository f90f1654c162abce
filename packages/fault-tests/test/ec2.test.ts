// Faults on the AWS provider, end to end through `skyward run --provider aws`: moto serves the EC2
// API on loopback and the EC2 emulator backs each of its instances with a network-namespace SSH
// host (packages/provider-aws/test/support). Ctrl-C while instances are provisioned, while nodes
// bootstrap and while tasks run; an instance terminated mid-run; the Node process SIGKILLed;
// canary credentials and keys; a host key that is not the pinned one. After each: no instance,
// security group or key pair in moto, no host in the emulator, no local process or file.
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { TerminateInstancesCommand, type Instance } from "@aws-sdk/client-ec2"
import { cacheRoot } from "@skyward/host"
import type { PoolEvent } from "@skyward/contracts"
import { generateEd25519 } from "@skyward/provider-aws/testing"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { startEmulator, TEST_POWER_OFF, type EmulatedInstance, type Emulator, type EmulatorOptions } from "../../provider-aws/test/support/emulator.js"
import { allInstances, leftInMoto } from "../../provider-aws/test/support/inspect.js"
import { isolateAwsEnvironment, motoUnavailable, startMoto, type Moto } from "../../provider-aws/test/support/moto.js"
import { motoAmi } from "../../provider-aws/test/support/pool.js"
import { agentProcesses, leftovers, netnsUnavailable, sshdUnavailable } from "../../transport-ssh/test/harness/hosts.js"
import {
  entriesOf,
  reportLostNode,
  fixtures,
  interrupt,
  isTag,
  leftoversOf,
  processesMarked,
  report,
  resultLines,
  runCli,
  settle,
  skywardLines,
  sleep,
  startCli,
  tempDir,
  venvPython,
  waitFor,
  type CliRun
} from "./support.js"

const unavailable = motoUnavailable() ?? sshdUnavailable() ?? netnsUnavailable()
if (unavailable) console.warn(`skipping the EC2 faults: ${unavailable}`)

type Left = Awaited<ReturnType<typeof leftInMoto>>

/** What moto still holds of Skyward (any pool), one line per resource: none after a clean run. */
const describeMoto = (left: Left): string[] => [
  ...left.instances.map((id) => `instance ${id}`),
  ...left.groups.map((id) => `security group ${id}`),
  ...left.keys.map((name) => `key pair ${name}`)
]

/** Polls an async check until it gives a value (like support's waitFor, for checks that ask moto). */
const waitForAsync = async <A>(what: string, check: () => Promise<A | undefined>, ms: number, every = 100): Promise<A> => {
  const until = Date.now() + ms
  for (;;) {
    const value = await check()
    if (value !== undefined) return value
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(every)
  }
}

/** Whether the emulated instance's sshd still runs (its watchdog's power-off stops it). */
const sshdAlive = (instance: EmulatedInstance): boolean => {
  try {
    const pid = Number(fs.readFileSync(instance.sshdPidFile, "utf8").trim())
    process.kill(pid, 0)
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${pid}/status`, "utf8"))
  } catch {
    return false
  }
}

/** Secret lines of an OpenSSH private key: its base64 body, line by line. */
const keyLines = (privateKey: string): string[] => privateKey.split("\n").filter((l) => l.length >= 20 && !l.startsWith("-----"))

describe.skipIf(unavailable !== undefined)("faults on EC2 (moto + namespace SSH hosts) through `skyward run --provider aws`", () => {
  let moto: Moto
  let emulator: Emulator
  let ami: string
  const runs: CliRun[] = []
  const emulators: Emulator[] = []
  // every instance any emulator backed, to check at the end that none of their hosts is left
  const backed = new Map<string, EmulatedInstance>()
  let watcher: NodeJS.Timeout | undefined
  const parentTmp = process.env.TMPDIR

  /** The flags of `skyward run|ls|down` that reach this file's moto. */
  const connection = () => ["--endpoint", moto.endpoint, "--region", "us-east-1"]
  /** `--provider aws` flags that launch into `target`'s subnet, reached at private addresses as its login. */
  const awsFlags = (target: Emulator = emulator, ttl?: number) => [
    "--provider",
    "aws",
    ...connection(),
    "--ami",
    ami,
    "--subnet",
    target.subnetId,
    "--address",
    "private",
    "--user",
    target.login,
    "--power-off-command",
    TEST_POWER_OFF,
    ...(ttl === undefined ? [] : ["--ttl", String(ttl)])
  ]
  /** Starts `skyward <args>`; it is killed (with every process it marked) after the test. */
  const start = (args: ReadonlyArray<string>, options?: Parameters<typeof startCli>[1]) => {
    const run = startCli(args, options)
    runs.push(run)
    return run
  }
  /** A second emulator for one test (stopped after the file, also on failure). */
  const addEmulator = async (options: EmulatorOptions) => {
    const extra = await startEmulator(moto, options)
    emulators.push(extra)
    return extra
  }
  /** Hosts an emulator still runs (it retires an instance's host once moto says it terminated). */
  const hostsLeft = async (target: Emulator = emulator) => {
    await target.settle()
    return [...target.instances.keys()].map((id) => `host of ${id}`)
  }
  /** Everything a run left: Skyward resources in moto, hosts in the emulator, local processes and files. */
  const everythingLeft = async (run: CliRun, target: Emulator = emulator) => [
    ...describeMoto(await leftInMoto(moto.ec2)),
    ...(await hostsLeft(target)),
    ...(await leftoversOf(run))
  ]
  /** The emulated instance behind a node, found by the address its NodeProvisioned event gave. */
  const instanceOf = (run: CliRun, node: number): EmulatedInstance => {
    const address = run.events.find((e): e is Extract<PoolEvent, { _tag: "NodeProvisioned" }> => e._tag === "NodeProvisioned" && e.node === node)!.address
    return [...emulator.instances.values()].find((i) => i.address === address)!
  }
  /** Skyward agent processes (agents and their slots) on the namespace hosts of `instances`. */
  const remoteAgents = (instances: ReadonlyArray<EmulatedInstance>) => instances.flatMap((i) => agentProcesses(i.hosts.hosts[0]!))

  beforeAll(async () => {
    isolateAwsEnvironment()
    // the emulated hosts' login must reach its home and keys, made (when instances boot) under
    // os.tmpdir(): /tmp, not this file's private 0700 TMPDIR. Each run keeps a private TMPDIR.
    process.env.TMPDIR = "/tmp"
    moto = await startMoto()
    ami = await motoAmi(moto.ec2)
    emulator = await addEmulator({})
    watcher = setInterval(() => {
      for (const each of emulators) for (const [id, instance] of each.instances) backed.set(id, instance)
    }, 100)
  })
  afterEach(async () => {
    for (const run of runs.splice(0)) run.kill()
    if (moto === undefined) return
    // a failed test may leave a pool behind: remove it as a user would, so the next test starts clean
    if (describeMoto(await leftInMoto(moto.ec2)).length > 0) await runCli(["down", "--all", ...connection()], { timeoutMs: 60_000 })
    for (const each of emulators) expect(await hostsLeft(each)).toEqual([])
    expect(emulators.flatMap((each) => each.problems)).toEqual([])
  })
  afterAll(async () => {
    clearInterval(watcher)
    for (const each of emulators.reverse()) await each.stop()
    await moto?.stop()
    process.env.TMPDIR = parentTmp
    expect([...backed.values()].flatMap((instance) => leftovers(instance.hosts))).toEqual([])
  })

  it("Ctrl-C while instances are being provisioned: exit 130 within 10 s; no instance, security group or key pair left", async () => {
    // this emulator never backs an instance: SSH never answers, so the pool stays in provisioning
    const silent = await addEmulator({ skip: () => true })
    const run = start(["run", "--json", ...awsFlags(silent), "--nodes", "3", "--plugin", "joblib", path.join(fixtures, "ok.py")])
    const during = await waitForAsync(
      "3 instances, a security group and a key pair in moto",
      async () => {
        const left = await leftInMoto(moto.ec2)
        return left.instances.length === 3 && left.groups.length === 1 && left.keys.length === 1 ? left : undefined
      },
      60_000
    )
    expect(run.events.filter(isTag("NodeProvisioned"))).toEqual([]) // still waiting for the instances
    const { code, seconds } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    const left = await everythingLeft(run, silent)
    report({
      fault: "SIGINT to `skyward run --provider aws` while 3 instances are provisioned (EC2 emulator)",
      happened: `exit ${code}; terminated ${during.instances.length} instances, deleted the security group and key pair`,
      detectSeconds: seconds,
      correct: "n/a",
      left
    })
    expect(left).toEqual([])
  })

  it("Ctrl-C while the EC2 nodes bootstrap (venv and pip running): exit 130 within 10 s, nothing left", async () => {
    const run = start(["run", "--json", ...awsFlags(), "--nodes", "2", "--plugin", "joblib", path.join(fixtures, "ok.py")])
    await run.when((e): e is PoolEvent => e._tag === "NodeBootstrapping" && /creating virtual environment/.test(e.line), 60_000)
    expect(run.events.filter(isTag("NodeReady"))).toEqual([])
    const { code, seconds } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    const left = await everythingLeft(run)
    report({
      fault: "SIGINT to `skyward run --provider aws` while 2 EC2 nodes bootstrap (venv/pip)",
      happened: `exit ${code}; instances, security group, key pair deleted`,
      detectSeconds: seconds,
      correct: "n/a",
      left
    })
    expect(left).toEqual([])
  })

  it("Ctrl-C while tasks run on EC2 nodes: exit 130 within 10 s, nothing left", async () => {
    const run = start(["run", "--json", ...awsFlags(), "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", path.join(fixtures, "sleepy.py")])
    await run.whenOutput("started", 90_000)
    await waitFor("4 running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 4, 30_000)
    const agents = remoteAgents([instanceOf(run, 0), instanceOf(run, 1)]).length
    expect(agents).toBeGreaterThanOrEqual(2)
    const { code, seconds, before } = await interrupt(run)
    expect(code, run.stderr.slice(-2000)).toBe(130)
    expect(seconds).toBeLessThan(10)
    const left = await everythingLeft(run)
    report({
      fault: "SIGINT to `skyward run --provider aws` while tasks run (2 EC2 nodes x 2)",
      happened: `exit ${code}; ${agents} remote agent/slot and ${before} local processes stopped; instances, security group, key pair deleted`,
      detectSeconds: seconds,
      correct: "n/a",
      left
    })
    expect(left).toEqual([])
  })

  it("an instance terminated mid-run (1 of 3): node lost, its tasks re-run, joblib output = loky's", async () => {
    const script = path.join(fixtures, "kill_one.py")
    const loky = execFileSync(venvPython, [script], { encoding: "utf8", env: { ...process.env, FAULT_N_JOBS: "9" } })
    // 0.3 s tasks (4.5 s of work on 6 slots): node 1 still holds tasks when its host goes
    const run = start(["run", "--json", ...awsFlags(), "--nodes", "3", "--concurrency", "2", "--plugin", "joblib", script], { env: { FAULT_TASK_SECONDS: "0.3" } })
    await run.when((e): e is PoolEvent => e._tag === "TaskDone" && e.node === 1, 90_000)
    const victim = instanceOf(run, 1)
    const terminatedAt = Date.now()
    await moto.ec2.send(new TerminateInstancesCommand({ InstanceIds: [victim.instanceId] }))
    const code = await run.exited
    expect(code, run.stderr.slice(-3000)).toBe(0)
    expect(resultLines(run.stdout)).toEqual(resultLines(loky))
    // the run ends with what it cost: 3 spot instances at moto's $0.00001 an hour, the terminated one
    // only until it was lost (so on average less than $0.00003, more than the 2 left)
    const cost = run.stderr.split("\n").filter((l) => l.includes('"_tag":"RunCost"')).map((l) => JSON.parse(l) as { usdPerHour: number; usd: number; minutes: number; tasks: number })
    expect(cost).toHaveLength(1)
    expect(cost[0]!.usdPerHour).toBeGreaterThan(0.00002)
    expect(cost[0]!.usdPerHour).toBeLessThan(0.00003)
    expect(cost[0]!.usd).toBeCloseTo((cost[0]!.usdPerHour * cost[0]!.minutes) / 60, 12)
    expect(cost[0]!.tasks).toBeGreaterThan(0)

    const left = await everythingLeft(run)
    reportLostNode(run, "EC2 instance terminated (TerminateInstances), 1 of 3, joblib via `skyward run --provider aws`", terminatedAt, left)
    expect(left).toEqual([])
  })

  it("Node SIGKILLed: remote agents exit when their SSH channel drops; instances end by their ttl; `skyward down --all` removes the rest", async () => {
    const ttlMinutes = 0.1 // 6 s, checked every second (provider-aws's emulator tests use the same ttl)
    const run = start(["run", "--json", ...awsFlags(emulator, ttlMinutes), "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", path.join(fixtures, "sleepy.py")])
    await run.whenOutput("started", 90_000)
    await waitFor("4 running tasks", () => run.events.filter(isTag("TaskStarted")).length >= 4, 30_000)
    const instances = [instanceOf(run, 0), instanceOf(run, 1)]
    expect(instances.every((i) => i.watchdog && sshdAlive(i) && agentProcesses(i.hosts.hosts[0]!).length > 0)).toBe(true)
    const agents = remoteAgents(instances).length
    const killedAt = Date.now()
    run.child.kill("SIGKILL")
    const agentsLeft = await settle(() => remoteAgents(instances), 20_000)
    const agentSeconds = (Date.now() - killedAt) / 1000
    expect(agentsLeft).toEqual([])
    // no SSH connection any more: each watchdog runs the power-off command (it stops that host's sshd)
    await waitFor("every watchdog powered its instance off", () => instances.every((i) => !sshdAlive(i)), ttlMinutes * 60_000 + 10_000, 250)
    const ttlSeconds = (Date.now() - killedAt) / 1000
    const localLeft = await settle(() => processesMarked(run.marker), 5_000)
    // a killed client deletes nothing: moto still lists the pool (on EC2 the power-off would
    // terminate the instances); `skyward ls` shows it and `skyward down --all` removes it
    const listed = await runCli(["ls", "--json", ...connection()], { timeoutMs: 60_000 })
    expect(listed.code, listed.stderr).toBe(0)
    const kinds = listed.stdout
      .split("\n")
      .filter((l) => l.startsWith("{"))
      .map((l) => (JSON.parse(l) as { kind: string }).kind)
      .sort()
    expect(kinds).toEqual(["instance", "instance", "key-pair", "security-group"])
    const down = await runCli(["down", "--all", ...connection()], { timeoutMs: 60_000 })
    expect(down.code, down.stderr).toBe(0)
    expect(down.stdout.split("\n").filter((l) => l.startsWith("removed "))).toHaveLength(4)
    // the dead client's own folders stay in its TMPDIR (the next pool there removes them, as
    // node-faults.test.ts shows for local pools): counted, then removed here
    const orphans = entriesOf(run.tmp).filter((f) => !f.includes("/")).length
    fs.rmSync(run.tmp, { recursive: true, force: true })
    const left = [...(await everythingLeft(run)), ...localLeft.map((p) => `process ${p}`)]
    report({
      fault: "Node SIGKILLed with a pool on 2 EC2 nodes (ttl 0.1 min)",
      happened: `${agents} remote agent/slot processes exited when their channel dropped; both watchdogs powered off after ${ttlSeconds.toFixed(1)} s; \`skyward down --all\` removed ${kinds.length} resources; ${orphans} folder(s) of the dead client in its TMPDIR`,
      detectSeconds: agentSeconds,
      correct: "n/a",
      left
    })
    expect(left).toEqual([])
  })

  it("canary AWS credentials and the pool's private keys never appear in events, errors, stderr/stdout or --json output", async () => {
    const canaries = {
      AWS_ACCESS_KEY_ID: "AKIAEC2FAULTCANARY42",
      AWS_SECRET_ACCESS_KEY: "eC2fAuLtCaNaRy/SeCrEt/kEy+9876543210zyxwABC",
      AWS_SESSION_TOKEN: "Ec2FaultCanarySessionToken4242qqqq"
    }
    const env = { env: canaries }
    const known = new Set((await allInstances(moto.ec2)).map((i) => i.InstanceId))
    const tokenFile = path.join(tempDir("token"), "token")
    // a run whose task and script fail, with `skyward ls --json` while its pool is up
    const failing = start(["run", "--json", ...awsFlags(), "--nodes", "2", "--concurrency", "1", "--plugin", "joblib", path.join(fixtures, "canary.py"), tokenFile], env)
    await failing.when(isTag("NodeProvisioned"), 90_000)
    const listed = await runCli(["ls", "--json", ...connection()], { ...env, timeoutMs: 60_000 })
    runs.push(listed)
    expect(listed.code, listed.stderr).toBe(0)
    expect(listed.stdout).toContain('"kind":"instance"')
    expect(await failing.exited, failing.stderr.slice(-2000)).toBe(1)
    expect(failing.stderr).toMatch(/ValueError: planned failure/)
    // a run that fails on an AWS error (moto's answer quoted in the message)
    const refused = await runCli(["run", "--json", ...awsFlags(), "--instance-type", "c6i.bogus", path.join(fixtures, "ok.py")], { ...env, timeoutMs: 60_000 })
    runs.push(refused)
    const awsError = skywardLines(refused.stderr).join("\n")
    expect(refused.code, refused.stderr.slice(-2000)).not.toBe(0)
    expect(awsError).toMatch(/c6i\.bogus.*DescribeInstanceTypes: InvalidInstanceType/)

    // the instances' host keys, made on the instances (the emulator kept them); the login key is found by its form
    const launched = (await allInstances(moto.ec2)).filter((i: Instance) => !known.has(i.InstanceId))
    expect(launched).toHaveLength(2)
    const hostKeys = launched.map((i) => emulator.hostKeys.get(i.InstanceId!)!)
    expect(hostKeys.every((key) => key.includes("PRIVATE KEY"))).toBe(true)
    const token = fs.readFileSync(tokenFile, "utf8").trim()
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    const secrets: Array<[string, string]> = [
      ...Object.entries(canaries).flatMap(([name, value]): Array<[string, string]> => [
        [name, value],
        [`${name} (first 16)`, value.slice(0, 16)]
      ]),
      ["SKYWARD_TOKEN", token],
      ...hostKeys.flatMap((key, n) => keyLines(key).map((line, i): [string, string] => [`host key ${n} line ${i}`, line])),
      // any OpenSSH private key (the pool's login key too): its armour, or its base64 "openssh-key-v1"
      ["a private key's armour", "PRIVATE KEY"],
      ["an openssh-key-v1 body", "b3BlbnNzaC1rZXktdjE"]
    ]
    const output = [failing, listed, refused].map((r) => r.stdout + r.stderr).join("\n")
    const leaked = secrets.filter(([, value]) => output.includes(value)).map(([name]) => name)
    const left = [...(await everythingLeft(failing)), ...(await leftoversOf(refused)), ...(await leftoversOf(listed))]
    report({
      fault: "canary AWS credentials, bridge token and the pool's SSH keys across `skyward run --provider aws --json` (failing task, AWS error) and `skyward ls --json`",
      happened: `${output.length} bytes scanned for ${secrets.length} secrets (${hostKeys.length} host keys of the instances; AWS error: ${awsError.slice(0, 80)}...); leaked: ${leaked.join(", ") || "nothing"}`,
      correct: leaked.length === 0,
      left
    })
    expect(leaked).toEqual([])
    expect(left).toEqual([])
  })

  it("each instance's host key is pinned (no trust-on-first-use): a changed key is refused, saying so, and the pool tears down", async () => {
    const impostor = generateEd25519("impostor")
    // instances of this emulator present another host key than the one they made and printed on their console
    const fake = await addEmulator({ impostorKey: () => impostor.privateKey })
    // a known_hosts that vouches for the impostor at every address of the subnet: pinned keys ignore it
    const home = tempDir("home")
    fs.mkdirSync(path.join(home, ".ssh"), { mode: 0o700 })
    const prefix = fake.subnetCidr.replace(/0\/24$/, "")
    fs.writeFileSync(path.join(home, ".ssh", "known_hosts"), Array.from({ length: 254 }, (_, i) => `${prefix}${i + 1} ${impostor.publicKeyLine}\n`).join(""))
    const recordFile = path.join(cacheRoot(), "known_hosts")
    const recorded = () => (fs.existsSync(recordFile) ? fs.readFileSync(recordFile, "utf8") : "")
    const before = recorded()

    const run = await runCli(["run", "--json", ...awsFlags(fake), "--nodes", "2", path.join(fixtures, "ok.py")], { env: { HOME: home }, timeoutMs: 90_000 })
    runs.push(run)
    expect(run.code, run.stderr.slice(-2000)).toBe(1)
    const error = skywardLines(run.stderr).join("\n")
    expect(error).toMatch(/host key verification failed for .*: the server presented ssh-ed25519 SHA256:\S+, which is not the pinned host key/)
    expect(run.events.filter(isTag("NodeReady"))).toEqual([])
    const refusedSeconds = run.seconds - (run.timed.find((t) => t.event._tag === "NodeProvisioned")!.at - run.startedAt) / 1000
    expect(recorded()).toBe(before) // nothing recorded: no trust on first use
    // and no flag turns trust-on-first-use on for EC2
    const tofu = await runCli(["run", ...awsFlags(fake), "--trust-on-first-use", path.join(fixtures, "ok.py")], { timeoutMs: 60_000 })
    runs.push(tofu)
    expect(tofu.code).toBe(2)
    expect(skywardLines(tofu.stderr).join("\n")).toMatch(/--trust-on-first-use needs --provider ssh/)
    const left = [...(await everythingLeft(run, fake)), ...(await leftoversOf(tofu))]
    fs.rmSync(home, { recursive: true, force: true })
    report({
      fault: "EC2 instance presenting another host key than the pinned one (2 nodes; known_hosts vouching for it)",
      happened: `refused: ${error.split("\n")[0]!.slice(0, 150)}...; --trust-on-first-use with aws: usage error; nothing recorded`,
      detectSeconds: refusedSeconds,
      correct: "yes (refused)",
      left
    })
    expect(left).toEqual([])
  })
})
