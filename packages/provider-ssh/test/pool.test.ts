import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { ComputePool } from "@skyward/core"
import { cacheRoot } from "@skyward/host"
import { ConfigError, imageHash, ImageSchema, type PoolEvent, type PoolOptionsInput } from "@skyward/contracts"
import { Schema } from "effect"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { ssh } from "../src/index.js"
import {
  agentProcesses,
  createHosts,
  leftovers,
  netnsUnavailable,
  sshdUnavailable,
  type HostMode,
  type TestHosts
} from "../../transport-ssh/test/harness/hosts.js"

const funcs = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "skyssh_funcs.py")
const noSshd = sshdUnavailable()
// SKYWARD_TEST_HOSTS=loopback forces the loopback variant (what runs where namespaces cannot be made)
const noNetns = noSshd ?? (process.env.SKYWARD_TEST_HOSTS === "loopback" ? "SKYWARD_TEST_HOSTS=loopback" : netnsUnavailable())
const mode: HostMode = noNetns === undefined ? "netns" : "loopback"
if (noSshd) console.warn(`skipping SSH pool tests: ${noSshd}`)
else if (noNetns) console.warn(`network namespaces unavailable (${noNetns}): the pool tests run on loopback sshd hosts, the link-cut test is skipped`)

interface Where {
  readonly x: number
  readonly node: number
  readonly count: number
  readonly address: string | null
  readonly user: string
  readonly greeting: string | null
}

// the pool events of the running test, printed when it fails
let trace: string[] = []
const traced =
  (listener?: (event: PoolEvent) => void) =>
  (event: PoolEvent): void => {
    if (event._tag !== "TaskQueued" && event._tag !== "TaskStarted" && event._tag !== "TaskDone") trace.push(`${new Date().toISOString()} ${JSON.stringify(event)}`)
    listener?.(event)
  }

/** The wheelhouse lines of a pool's bootstrap (see the SSH transport's bootstrap): builds on the client, uploads per node. */
const wheelhouseLines = (events: ReadonlyArray<PoolEvent>) => {
  const lines = events.flatMap((e) => (e._tag === "NodeBootstrapping" ? [{ node: e.node, line: e.line }] : []))
  return {
    builds: lines.filter((l) => l.line.startsWith("building the wheelhouse ")),
    uploads: lines.filter((l) => /^uploading \d+ of \d+ wheels to /.test(l.line))
  }
}

const waitFor = async (what: string, check: () => boolean, ms: number) => {
  const until = Date.now() + ms
  while (Date.now() < until) {
    if (check()) return
    await new Promise((r) => setTimeout(r, 200))
  }
  throw new Error(`timed out waiting for ${what}`)
}

describe.skipIf(noSshd !== undefined)(`ComputePool over ssh() on 3 ${mode} hosts`, () => {
  let hosts: TestHosts
  const image = { files: { "skyssh_funcs.py": funcs }, env: { SKYTEST_GREETING: "hello from the client" } }
  const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
    provider: ssh({
      hosts: hosts.hosts.map((h) => ({ host: h.address, port: h.port, user: h.user, hostKey: h.hostKey })),
      key: hosts.keys.ed25519.file,
      knownHostsFiles: [],
      connectTimeout: 10
      // keepalive: the defaults (2 s x 4): a dead link is seen within 10 s
    }),
    nodes: 3,
    worker: { concurrency: 2 },
    image,
    ...extra
  })

  beforeAll(async () => {
    hosts = await createHosts(3, mode)
  })
  afterEach(async (context) => {
    if (context.task.result?.state === "fail") console.error(`pool events of the failed test:\n${trace.slice(-80).join("\n")}`)
    trace = []
    // every pool closed: no agent is left on any host
    await waitFor("the agents to exit", () => hosts.hosts.every((h) => agentProcesses(h).length === 0), 20_000)
  })
  afterAll(async () => {
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("runs tasks on all 3 hosts, then a second pool reuses their environments", async () => {
    const boots: Array<Extract<PoolEvent, { _tag: "NodeBootstrapped" }>> = []
    const events: PoolEvent[][] = [[], []]
    const listener = (pool: 0 | 1) => (event: PoolEvent) => {
      events[pool]!.push(event)
      if (event._tag === "NodeBootstrapped") boots.push(event)
    }
    const inputs = Array.from({ length: 60 }, (_, i) => i)
    const cold = Date.now()
    const first = await ComputePool.use(options(), (pool) => pool.map<Where>("skyssh_funcs:where", inputs), traced(listener(0)))
    const coldSeconds = (Date.now() - cold) / 1000
    expect(first.map((r) => r.x)).toEqual(inputs)
    expect(new Set(first.map((r) => r.node))).toEqual(new Set([0, 1, 2]))
    for (const r of first) {
      expect(r.count).toBe(3)
      expect(r.address).toBe(hosts.hosts[r.node]!.address)
      expect(r.user).toBe(hosts.hosts[r.node]!.user)
      expect(r.greeting).toBe("hello from the client")
    }
    expect(boots.map((b) => b.cached)).toEqual([false, false, false])
    // one wheelhouse for the 3 hosts (none when an earlier run left it in the client's cache), and
    // each fresh host gets all of its wheels, once
    const shipped = wheelhouseLines(events[0]!)
    expect(shipped.builds.length).toBeLessThanOrEqual(1)
    expect(shipped.uploads.map((u) => u.node).sort()).toEqual([0, 1, 2])
    for (const u of shipped.uploads) expect(u.line).toMatch(/^uploading (\d+) of \1 wheels to /)

    const warm = Date.now()
    const second = await ComputePool.use(options(), (pool) => pool.map<Where>("skyssh_funcs:where", inputs), traced(listener(1)))
    const warmSeconds = (Date.now() - warm) / 1000
    expect(new Set(second.map((r) => r.node))).toEqual(new Set([0, 1, 2]))
    expect(boots.slice(3).map((b) => b.cached)).toEqual([true, true, true])
    // reused environments need no wheelhouse at all
    expect(wheelhouseLines(events[1]!)).toEqual({ builds: [], uploads: [] })
    const max = (xs: ReadonlyArray<(typeof boots)[number]>) => Math.max(...xs.map((b) => b.seconds)).toFixed(2)
    console.info(
      `bootstrap of 3 ${mode} hosts: cold ${max(boots.slice(0, 3))} s (whole pool ${coldSeconds.toFixed(1)} s), ` +
        `warm ${max(boots.slice(3))} s (whole pool ${warmSeconds.toFixed(1)} s)`
    )
    expect(Number(max(boots.slice(3)))).toBeLessThan(5)
  })

  it("builds one wheelhouse for a new Image on 3 hosts, and uploads none of the wheels the hosts already have", async () => {
    // after the first test: every host has the wheels of `image` (the agent's requirements)
    for (const h of hosts.hosts) expect(fs.readdirSync(path.join(h.home, ".cache/skyward/wheels")).length, `wheels on host ${h.index}`).toBeGreaterThan(0)
    // the same wheels under another Image hash: a new environment on each host, from a new wheelhouse
    const shared = path.join(cacheRoot(), "wheelhouses")
    const baseHash = imageHash(Schema.decodeSync(ImageSchema)(image))
    const seeds = fs.readdirSync(shared).filter((d) => d.startsWith(`${baseHash}-`)).map((d) => path.join(shared, d))
    expect(seeds.length).toBeGreaterThan(0)
    const clientCache = path.join(hosts.dir, "client-cache")
    const saved = { SKYWARD_CACHE_DIR: process.env.SKYWARD_CACHE_DIR, PIP_NO_INDEX: process.env.PIP_NO_INDEX, PIP_FIND_LINKS: process.env.PIP_FIND_LINKS }
    // an empty client cache, so the wheelhouse is built here; pip reads the wheels of the first
    // test's wheelhouse instead of an index (no download)
    Object.assign(process.env, { SKYWARD_CACHE_DIR: clientCache, PIP_NO_INDEX: "1", PIP_FIND_LINKS: seeds.join(" ") })
    const events: PoolEvent[] = []
    try {
      const results = await ComputePool.use(
        options({ image: { ...image, pip: ["cloudpickle"] } }),
        (pool) => pool.map<Where>("skyssh_funcs:where", [0, 1, 2, 3, 4, 5]),
        traced((event) => events.push(event))
      )
      expect(results.map((r) => r.x)).toEqual([0, 1, 2, 3, 4, 5])
    } finally {
      for (const [name, value] of Object.entries(saved)) if (value === undefined) delete process.env[name]
      else process.env[name] = value
    }
    const boots = events.filter((e): e is Extract<PoolEvent, { _tag: "NodeBootstrapped" }> => e._tag === "NodeBootstrapped")
    expect(boots.map((b) => b.cached)).toEqual([false, false, false])
    const { builds, uploads } = wheelhouseLines(events)
    expect(builds).toHaveLength(1)
    expect(fs.readdirSync(path.join(clientCache, "wheelhouses"))).toHaveLength(1)
    expect(uploads).toEqual([])
  })

  it("refuses more nodes than hosts with a clear error", async () => {
    const error = await ComputePool.use(options({ nodes: 4 }), async () => undefined, traced()).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toMatch(/nodes: 4 asked, but the ssh provider has only 3 hosts/)
  })

  it("elastic (nodes 1..3): grows onto the hosts it is not using while tasks wait, gives them back when idle; refuses more than the hosts", async () => {
    const events: PoolEvent[] = []
    const inputs = Array.from({ length: 90 }, (_, i) => i)
    await ComputePool.use(
      options({ nodes: { min: 1, max: 3 }, scaleDownAfter: 2 }),
      async (pool) => {
        expect(pool.totalSlots).toBe(2)
        expect((await pool.map<Where>("skyssh_funcs:where_slowly", inputs)).map((r) => r.x)).toEqual(inputs)
        await waitFor("the pool back at 1 node", () => pool.totalSlots === 2 && pool.cluster.nodes.length === 1, 30_000)
      },
      traced((event) => events.push(event))
    )
    const added = events.flatMap((e) => (e._tag === "PoolScaled" && e.direction === "up" ? e.nodes : []))
    expect(added).toEqual([1, 2])
    const addresses = events.flatMap((e) => (e._tag === "NodeProvisioned" ? [e.address] : []))
    expect(addresses.sort()).toEqual(hosts.hosts.map((h) => h.address).sort())
    expect(new Set(events.flatMap((e) => (e._tag === "TaskDone" ? [e.node] : []))).size).toBe(3)
    expect(events.flatMap((e) => (e._tag === "PoolScaled" && e.direction === "down" ? e.nodes : [])).sort()).toEqual([1, 2])
    expect(events.filter((e) => e._tag === "NodeLost")).toEqual([])

    const error = await ComputePool.use(options({ nodes: { min: 1, max: 4 } }), async () => undefined, traced()).catch((e) => e)
    expect(error).toBeInstanceOf(ConfigError)
    expect(error.message).toMatch(/nodes: up to 4 asked, but the ssh provider has only 3 hosts/)
  })

  it("elastic (nodes 2..3): a lost node is replaced on a free host, and its tasks run again", async () => {
    const events: PoolEvent[] = []
    const victim = hosts.hosts[1]!
    const inputs = Array.from({ length: 40 }, (_, i) => i)
    let killed = false
    try {
      const results = await ComputePool.use(
        options({ nodes: { min: 2, max: 3 }, heartbeatTimeout: 5 }),
        (pool) => pool.map<Where>("skyssh_funcs:where_slowly", inputs),
        traced((event) => {
          events.push(event)
          if (event._tag === "TaskDone" && event.node === 1 && !killed) {
            killed = true
            victim.killSshd()
          }
        })
      )
      expect(results.map((r) => r.x)).toEqual(inputs)
    } finally {
      await victim.start()
    }
    expect(events.flatMap((e) => (e._tag === "NodeLost" ? [e.node] : []))).toEqual([1])
    const replaced = events.find((e): e is Extract<PoolEvent, { _tag: "PoolScaled" }> => e._tag === "PoolScaled" && e.direction === "replace")
    expect(replaced).toMatchObject({ nodes: [2], live: 2, reason: "1 of at least 2 nodes alive" })
    expect(events.find((e) => e._tag === "NodeProvisioned" && e.node === 2)).toMatchObject({ address: hosts.hosts[2]!.address })
    expect(events.some((e) => e._tag === "TaskDone" && e.node === 2)).toBe(true)
  })

  it("completes the map when one host's sshd is killed mid-run, and reports that node lost", async () => {
    const lost: Array<{ node: number; at: number; reason: string }> = []
    let killedAt = 0
    let mapDone = false
    const victim = hosts.hosts[1]!
    const inputs = Array.from({ length: 36 }, (_, i) => i)
    try {
      const results = await ComputePool.use(
        options(),
        async (pool) => {
          const out = await pool.map<Where>("skyssh_funcs:where_slowly", inputs)
          mapDone = true
          return out
        },
        traced((event) => {
          if (event._tag === "TaskDone" && event.node === 1 && killedAt === 0) {
            killedAt = Date.now()
            victim.killSshd()
          }
          if (event._tag === "NodeLost" && !mapDone) lost.push({ node: event.node, at: Date.now(), reason: event.reason })
        })
      )
      expect(results.map((r) => r.x)).toEqual(inputs)
      expect(lost.map((l) => l.node)).toEqual([1])
      console.info(`killed sshd: node lost after ${((lost[0]!.at - killedAt) / 1000).toFixed(2)} s (${lost[0]!.reason})`)
      expect(lost[0]!.at - killedAt).toBeLessThan(12_000)
    } finally {
      await victim.start()
    }
  })

  it.skipIf(mode !== "netns")("completes the map when one host's link is cut mid-run; the node is lost within the keepalive window", async () => {
    const lost: Array<{ node: number; at: number; reason: string }> = []
    let cutAt = 0
    let mapDone = false
    const victim = hosts.hosts[2]!
    const inputs = Array.from({ length: 48 }, (_, i) => i)
    try {
      const results = await ComputePool.use(
        options({ heartbeatTimeout: 60 }),
        async (pool) => {
          const out = await pool.map<Where>("skyssh_funcs:where_slowly", inputs)
          mapDone = true
          return out
        },
        traced((event) => {
          if (event._tag === "TaskDone" && event.node === 2 && cutAt === 0) {
            cutAt = Date.now()
            victim.cutLink()
          }
          if (event._tag === "NodeLost" && !mapDone) lost.push({ node: event.node, at: Date.now(), reason: event.reason })
        })
      )
      expect(results.map((r) => r.x)).toEqual(inputs)
      expect(new Set(results.map((r) => r.node))).toContain(2) // it did run tasks before the cut
      expect(lost.map((l) => l.node)).toEqual([2])
      const seconds = (lost[0]!.at - cutAt) / 1000
      console.info(`cut link: node lost after ${seconds.toFixed(2)} s (${lost[0]!.reason})`)
      expect(seconds).toBeLessThan(11)
    } finally {
      // with the link back, the host's sshd sees the client gone and its agent exits (checked in afterEach)
      victim.restoreLink()
    }
  })
})
