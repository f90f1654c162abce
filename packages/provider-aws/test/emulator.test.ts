import { execFileSync } from "node:child_process"
import { once } from "node:events"
import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { DescribeInstanceAttributeCommand, TerminateInstancesCommand } from "@aws-sdk/client-ec2"
import { ComputePool } from "@skyward/core"
import type { Cluster, PoolEvent } from "@skyward/contracts"
import { Effect, Exit } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { aws, type AwsProviderOptions } from "../src/index.js"
import { generateEd25519 } from "../src/internal/host-keys.js"
import { openSsh } from "../../transport-ssh/src/internal/connect.js"
import { netnsUnavailable, sshdUnavailable } from "../../transport-ssh/test/harness/hosts.js"
import { parseCloudConfig, startEmulator, TEST_POWER_OFF, type EmulatedInstance, type Emulator } from "./support/emulator.js"
import { leftInMoto, live, NOTHING } from "./support/inspect.js"
import { motoUnavailable, startMoto, type Moto } from "./support/moto.js"
import { motoAmi, poolId, provisioned } from "./support/pool.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skyaws_funcs.py")
const slow = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skyaws_slow.py")
const unavailable = motoUnavailable() ?? sshdUnavailable() ?? netnsUnavailable()
if (unavailable) console.warn(`skipping the EC2 emulator tests: ${unavailable}`)

interface Where {
  readonly x: number
  readonly square: number
  readonly node: number
  readonly count: number
  readonly address: string | null
  readonly home: string
  readonly marker: string | null
}

const sshAnswers = (host: string) =>
  new Promise<boolean>((resolve) => {
    const socket = net.connect({ host, port: 22, timeout: 1000 })
    socket.once("connect", () => (socket.destroy(), resolve(true)))
    socket.once("error", () => resolve(false))
    socket.once("timeout", () => (socket.destroy(), resolve(false)))
  })

/** Whether the emulated instance's sshd still runs (its watchdog's power-off stops it). */
const sshdAlive = (instance: EmulatedInstance): boolean => {
  try {
    const sshd = Number(fs.readFileSync(instance.sshdPidFile, "utf8").trim())
    process.kill(sshd, 0)
    return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${sshd}/status`, "utf8"))
  } catch {
    return false
  }
}

/** Waits up to `ms` for the instance's watchdog to power it off; whether it did. */
const poweredOffWithin = async (instance: EmulatedInstance, ms: number): Promise<boolean> => {
  const until = Date.now() + ms
  while (Date.now() < until && sshdAlive(instance)) await new Promise((r) => setTimeout(r, 250))
  return !sshdAlive(instance)
}

/** What a node of the provider's cluster carries (node.data). */
interface AwsNodeData {
  readonly instanceId: string
  readonly ssh: { readonly host: string; readonly user: string; readonly key: { readonly data: string }; readonly hostKey: string }
}
const dataOf = (cluster: Cluster): AwsNodeData => cluster.nodes[0]!.data as unknown as AwsNodeData

/** The live processes (pid and command line; zombies left out) of `user` (the emulated instances' agents run as the emulator's login). */
const processesOf = (user: string): string[] => {
  try {
    return execFileSync("ps", ["-u", user, "-o", "pid=,stat=,args="], { encoding: "utf8" })
      .split("\n")
      .map((l) => l.trim().split(/\s+/))
      .filter((fields) => fields.length > 1 && !fields[1]!.startsWith("Z"))
      .map((fields) => [fields[0], ...fields.slice(2)].join(" "))
  } catch {
    return [] // ps exits 1 when there are none
  }
}

/** Resolves once `test` holds (checked every 100 ms); rejects after `ms`, or as soon as `fail` says why not. */
const eventually = async (what: string, test: () => boolean, ms: number, fail: () => string | undefined = () => undefined) => {
  const until = Date.now() + ms
  while (!test()) {
    const failed = fail()
    if (failed !== undefined) throw new Error(`${what}: ${failed}`)
    if (Date.now() > until) throw new Error(`not within ${ms / 1000}s: ${what}`)
    await new Promise((r) => setTimeout(r, 100))
  }
}

describe.skipIf(unavailable !== undefined)("pools on EC2, emulated: moto's instances backed by namespace SSH hosts", () => {
  let moto: Moto
  let emulator: Emulator
  let ami: string
  const options = (extra: Partial<AwsProviderOptions> = {}): AwsProviderOptions => ({
    endpoint: moto.endpoint,
    region: "us-east-1",
    ami,
    subnetId: emulator.subnetId,
    address: "private",
    user: emulator.login,
    powerOffCommand: TEST_POWER_OFF,
    pollInterval: 0.2,
    bootTimeout: 60,
    connectTimeout: 20,
    ...extra
  })

  beforeAll(async () => {
    moto = await startMoto()
    ami = await motoAmi(moto.ec2)
    emulator = await startEmulator(moto)
  })
  afterEach(async () => {
    await emulator.settle()
    expect(emulator.problems).toEqual([])
    expect([...emulator.instances.keys()]).toEqual([])
  })
  afterAll(async () => {
    await emulator?.stop()
    await moto?.stop()
  })

  it("maps a function on both nodes through the real provider, then moto shows nothing left", async () => {
    const events: PoolEvent[] = []
    const inputs = Array.from({ length: 24 }, (_, i) => i)
    let poolIdSeen = ""
    let during: Awaited<ReturnType<typeof leftInMoto>> | undefined
    const results = await ComputePool.use(
      { provider: aws(options()), nodes: 2, worker: { concurrency: 2 }, image: { files: { "skyaws_funcs.py": funcs } } },
      async (pool) => {
        poolIdSeen = pool.cluster.id
        during = await leftInMoto(moto.ec2, pool.cluster.id)
        return pool.map<Where>("skyaws_funcs:where", inputs)
      },
      (event) => void events.push(event)
    )
    expect(results.map((r) => r.square)).toEqual(inputs.map((x) => x * x))
    expect(new Set(results.map((r) => r.node))).toEqual(new Set([0, 1]))
    // each node ran on the namespace host of its own instance, reached at the instance's private IP
    const provisionedAt = events.flatMap((e) => (e._tag === "NodeProvisioned" ? [[e.node, e.address] as const] : []))
    const addressOf = new Map(provisionedAt)
    const instances = during!.all.filter((i) => i.State?.Name !== "terminated")
    expect(instances).toHaveLength(2)
    for (const r of results) {
      expect(r.count).toBe(2)
      expect(r.address).toBe(addressOf.get(r.node))
      const instance = instances.find((i) => i.PrivateIpAddress === r.address)!
      expect(r.marker).toBe(instance.InstanceId)
    }
    // one login, two machines: the same home path, each instance's own folder behind it
    expect(new Set(results.map((r) => r.home)).size).toBe(1)
    expect(new Set(results.map((r) => r.marker)).size).toBe(2)
    for (const address of addressOf.values()) expect(address.startsWith(emulator.subnetCidr.replace("0/24", ""))).toBe(true)
    expect(during!.keys).toHaveLength(1)
    expect(during!.groups).toHaveLength(1)
    // after the pool: nothing in moto, and the emulator retired both hosts
    expect(live(await leftInMoto(moto.ec2, poolIdSeen))).toEqual(NOTHING)
    await emulator.settle()
    for (const instance of instances) expect(emulator.retired.has(instance.InstanceId!)).toBe(true)
  })

  it("a reclaimed spot instance is replaced, its tasks re-run", async () => {
    const events: PoolEvent[] = []
    const inputs = Array.from({ length: 6 }, (_, i) => i)
    let id = ""
    let reclaimed = ""
    let open = 0
    const results = await ComputePool.use(
      {
        provider: aws(options()),
        nodes: { min: 2, max: 2 },
        heartbeatTimeout: 3,
        worker: { concurrency: 2 },
        image: { files: { "skyaws_funcs.py": funcs, "skyaws_slow.py": slow } }
      },
      async (pool) => {
        id = pool.cluster.id
        const node1 = pool.cluster.nodes.find((n) => n.index === 1)!
        expect(node1.data["lifecycle"]).toBe("spot")
        reclaimed = (node1.data as unknown as AwsNodeData).instanceId
        const mapped = pool.map<Where>("skyaws_slow:slow_where", inputs)
        // as EC2 reclaims a spot instance: terminated under the pool while node 1 runs tasks
        await eventually("node 1 runs a task", () => events.some((e) => e._tag === "TaskStarted" && e.node === 1), 30_000)
        await moto.ec2.send(new TerminateInstancesCommand({ InstanceIds: [reclaimed] }))
        const results = await mapped
        await eventually(
          "a replacement node is ready",
          () => events.some((e) => e._tag === "NodeReady" && e.node >= 2),
          90_000,
          () => events.flatMap((e) => (e._tag === "NodeAddFailed" ? [`node ${e.node} could not be added: ${e.reason}`] : []))[0]
        )
        open = events.length
        return results
      },
      (event) => void events.push(event)
    )
    // every task's result, exactly once, though node 1 was lost with tasks on it
    expect(results.map((r) => r.x)).toEqual(inputs)
    expect(results.map((r) => r.square)).toEqual(inputs.map((x) => x * x))
    const lost = events.find((e) => e._tag === "NodeLost")
    expect(lost).toMatchObject({ node: 1 })
    const inFlight = lost?._tag === "NodeLost" ? lost.inFlight : []
    expect(inFlight.length).toBeGreaterThan(0)
    const retried = events.flatMap((e) => (e._tag === "TaskRetried" ? [e.task] : []))
    for (const task of inFlight) expect(retried).toContain(task)
    // the pool replaced it with a new node (a new index), which got ready
    const scaled = events.slice(0, open).filter((e) => e._tag === "PoolScaled")
    expect(scaled).toEqual([expect.objectContaining({ direction: "replace", nodes: [2], live: 2 })])
    expect(events.some((e) => e._tag === "NodeProvisioned" && e.node === 2)).toBe(true)
    expect(events.some((e) => e._tag === "NodeReady" && e.node === 2)).toBe(true)
    expect(events.filter((e) => e._tag === "NodeAddFailed")).toEqual([])
    // each task done once; those node 1 had in flight, done elsewhere
    const done = events.flatMap((e) => (e._tag === "TaskDone" ? [e] : []))
    expect(done).toHaveLength(inputs.length)
    expect(new Set(done.map((e) => e.task)).size).toBe(inputs.length)
    for (const task of inFlight) expect(done.find((e) => e.task === task)?.node).not.toBe(1)
    // after the pool: nothing in moto, the emulator retired every host, no process is left
    expect(live(await leftInMoto(moto.ec2, id))).toEqual(NOTHING)
    await emulator.settle()
    expect(emulator.retired.has(reclaimed)).toBe(true)
    expect(processesOf(emulator.login)).toEqual([])
    // the nodes ended as the pool closes are not lost ones to replace
    expect(events.slice(open).filter((e) => e._tag === "PoolScaled" || e._tag === "NodeProvisioned")).toEqual([])
  })

  it("puts no private key in the user-data: each instance makes its host key, and the pool pins the one its console shows", async () => {
    const seen = await Effect.runPromise(
      provisioned(options(), {}, 1, (cluster) =>
        Effect.promise(async () => {
          const data = dataOf(cluster)
          const attribute = await moto.ec2.send(new DescribeInstanceAttributeCommand({ InstanceId: data.instanceId, Attribute: "userData" }))
          const userData = Buffer.from(attribute.UserData?.Value ?? "", "base64").toString("utf8")
          return { userData, pinned: data.ssh.hostKey, served: emulator.instances.get(data.instanceId)!.hosts.hosts[0]!.hostKey }
        })
      )
    )
    // what DescribeInstanceAttribute (or a process on the instance, through the metadata service) reads
    expect(seen.userData).not.toMatch(/PRIVATE KEY|b3BlbnNzaC1rZXktdjE|ed25519_private/)
    expect(parseCloudConfig(seen.userData).ssh_keys).toBeUndefined()
    expect(seen.pinned).toMatch(/^ssh-ed25519 AAAA\S+$/)
    expect(seen.pinned).toBe(seen.served)
  })

  it("refuses an instance whose host key is not the one it printed on its console", async () => {
    const impostor = generateEd25519("impostor").privateKey
    const fake = await startEmulator(moto, { impostorKey: () => impostor })
    let id = ""
    try {
      const error = await ComputePool.use(
        { provider: aws(options({ subnetId: fake.subnetId, user: fake.login, retries: 0 })), nodes: 1, image: { files: { "skyaws_funcs.py": funcs } } },
        async () => "opened",
        (event) => {
          if (event._tag === "NodeProvisioned") id = [...fake.instances.values()][0]?.instanceId ?? ""
        }
      ).catch((e: Error) => e)
      expect(error).toBeInstanceOf(Error)
      expect((error as Error).message).toMatch(/host key verification failed/)
      expect((error as Error).message).toMatch(/not the pinned host key/)
      await fake.settle()
      expect([...fake.instances.keys()]).toEqual([])
      expect(fake.retired.has(id)).toBe(true)
    } finally {
      await fake.stop()
    }
  })

  it("tears down the pool when an instance never answers SSH, naming it", async () => {
    const id = poolId()
    const skipped: string[] = []
    const lonely = await startEmulator(moto, {
      skip: (instance) => {
        const tags = Object.fromEntries((instance.Tags ?? []).map((t) => [t.Key, t.Value]))
        if (tags["skyward:node"] !== "1") return false
        skipped.push(instance.InstanceId!)
        return true
      }
    })
    try {
      const exit = await Effect.runPromiseExit(
        provisioned(options({ subnetId: lonely.subnetId, user: lonely.login, bootTimeout: 6 }), {}, 2, () => Effect.void, id)
      )
      expect(Exit.isFailure(exit)).toBe(true)
      const message = String((exit as Exit.Failure<unknown, { message: string }>).cause.toString())
      expect(skipped).toHaveLength(1)
      expect(message).toContain(`1 of 2 instances did not come up`)
      expect(message).toContain(`node 1 (${skipped[0]}): SSH on`)
      expect(live(await leftInMoto(moto.ec2, id))).toEqual(NOTHING)
      await lonely.settle()
      expect(lonely.problems).toEqual([])
      expect([...lonely.instances.keys()]).toEqual([])
    } finally {
      await lonely.stop()
    }
  })

  it("the watchdog does not count connections that never log in as the pool's user (anyone sshCidr lets in)", async () => {
    const seen = await Effect.runPromise(
      provisioned(options({ ttl: 0.1 }), {}, 1, (cluster) =>
        Effect.promise(async () => {
          const instance = emulator.instances.get(dataOf(cluster).instanceId)!
          // a stranger: connects, reads sshd's banner, never authenticates (sshd waits 120 s for it)
          const stranger = net.connect({ host: cluster.nodes[0]!.address, port: 22 })
          try {
            await once(stranger, "data")
            // ttl 6 s, checked every second
            return { watchdog: instance.watchdog, poweredOff: await poweredOffWithin(instance, 20_000) }
          } finally {
            stranger.destroy()
          }
        })
      )
    )
    expect(seen).toEqual({ watchdog: true, poweredOff: true })
  })

  it("a live session of the pool's user keeps the instance up; once its client vanishes, sshd's keepalive ends it and the ttl runs", async () => {
    const seen = await Effect.runPromise(
      provisioned(options({ ttl: 0.1 }), {}, 1, (cluster) =>
        Effect.scoped(
          Effect.gen(function* () {
            const data = dataOf(cluster)
            const instance = emulator.instances.get(data.instanceId)!
            const host = instance.hosts.hosts[0]!
            yield* openSsh({ host: data.ssh.host, user: data.ssh.user, key: data.ssh.key, hostKey: data.ssh.hostKey }, { connectTimeout: 20, knownHostsFiles: [] })
            // logged in, idle, for longer than the ttl (6 s)
            yield* Effect.sleep("10 seconds")
            const upWhileLive = sshdAlive(instance)
            // the client vanishes (its machine sleeps, its network goes): no packet passes any more, no FIN
            host.cutLink()
            const vanishedAt = Date.now()
            const poweredOff = yield* Effect.promise(() => poweredOffWithin(instance, 50_000))
            return { watchdog: instance.watchdog, upWhileLive, poweredOff, seconds: Math.round((Date.now() - vanishedAt) / 1000) }
          })
        )
      )
    )
    expect(seen).toMatchObject({ watchdog: true, upWhileLive: true, poweredOff: true })
    console.info(`a vanished client: its instance powered off ${seen.seconds} s later (ttl 6 s)`)
  })

  it("the user-data watchdog stops an instance left without an SSH connection for ttl minutes", async () => {
    const id = poolId()
    const seen = await Effect.runPromise(
      provisioned(options({ ttl: 0.1 }), {}, 1, (cluster) =>
        Effect.promise(async () => {
          const address = cluster.nodes[0]!.address
          const emulated = [...emulator.instances.values()].find((i) => i.address === address)!
          const upAtFirst = await sshAnswers(address)
          const sshd = Number(fs.readFileSync(emulated.sshdPidFile, "utf8").trim())
          const alive = () => {
            try {
              process.kill(sshd, 0)
              return !/^State:\s+Z/m.test(fs.readFileSync(`/proc/${sshd}/status`, "utf8"))
            } catch {
              return false
            }
          }
          // ttl 6 s, checked every second: sshd is stopped well within 15 s of the last connection
          const until = Date.now() + 15_000
          while (Date.now() < until && alive()) await new Promise((r) => setTimeout(r, 250))
          return { upAtFirst, stopped: !alive() && !(await sshAnswers(address)), watchdog: emulated.watchdog }
        }),
        id
      )
    )
    expect(seen).toEqual({ upAtFirst: true, stopped: true, watchdog: true })
    expect(live(await leftInMoto(moto.ec2, id))).toEqual(NOTHING)
  })
})
