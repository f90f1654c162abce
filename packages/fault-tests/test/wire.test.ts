// Bad bytes on both links. The client bridge (a real pool behind it) refuses garbage, truncated
// frames, oversized length prefixes, a wrong protocol, a bad or missing token — each closed with a
// logged reason while it keeps serving a good client — and survives a seeded fuzz of 10,000 inputs.
// A live agent survives 10,000 hostile but well-formed messages; a corrupt frame makes it exit
// with code 2 by design, and a pool then reports that node lost instead of hanging.
import { execFile, spawn } from "node:child_process"
import { createHash } from "node:crypto"
import net from "node:net"
import path from "node:path"
import { promisify } from "node:util"
import { encodeFrame, FrameDecoder, type Message } from "@skyward/codec"
import { codecModules } from "@skyward/codec"
import { ComputePool, local } from "@skyward/core"
import { prepareLocalEnvironment } from "@skyward/provider-local"
import { type AgentChannel, type AgentLaunch, imageHash, ImageSchema, type PoolEvent, type PoolOptionsInput, type ProviderDefinition, type TaskCallbacks, TaskCancelled, type TaskSpec, Transport } from "@skyward/contracts"
import { agentModules } from "@skyward/worker"
import type { BridgePool } from "@skyward/plugin-joblib"
import { Context, Effect, Layer, Schema } from "effect"
import { openBridge } from "./bridge-support.js"
import { afterEach, beforeAll, describe, expect, it } from "vitest"
// the codec's own fuzzing helpers: the same mutations reach the bridge and the agents
import { mulberry32, mutate } from "../../codec/test/helpers.js"
import { descendants, fixtures, report, settle, sleep, waitFor } from "./support.js"

const run = promisify(execFile)
const funcs = path.join(fixtures, "fault_funcs.py")
const options: PoolOptionsInput = { nodes: 2, worker: { concurrency: 2 }, image: { files: { "fault_funcs.py": funcs } } }
/** cloudpickle.dumps(functools.partial(operator.mul, 6, 7)) and cloudpickle.dumps(42). */
const SIX_TIMES_SEVEN = Buffer.from(
  "80059540000000000000008c0966756e63746f6f6c73948c077061727469616c9493948c095f6f70657261746f72948c036d756c949394859452942868054b064b0786947d944e7494622e",
  "hex"
)
const FORTY_TWO = "80054b2a2e"
const BLOB = Buffer.concat([Buffer.alloc(600, 3), Buffer.alloc(400, 4)])
const BLOB_HASH = createHash("sha256").update(BLOB).digest("hex")

afterEach(async () => {
  expect(await settle(() => descendants(), 8_000)).toEqual([])
})

// -- the bridge ---------------------------------------------------------------------------------

/** A pool that answers every task with its own payload, counting what is still open. */
class EchoPool implements BridgePool {
  totalSlots = 4
  open = new Map<number, TaskCallbacks>()
  dispatched = 0
  private next = 1
  dispatch = (spec: TaskSpec, callbacks: TaskCallbacks): number => {
    const id = this.next++
    this.dispatched++
    this.open.set(id, callbacks)
    setImmediate(() => {
      if (!this.open.delete(id)) return
      callbacks.onDone({ payload: spec.payload ?? new Uint8Array(), node: 0, slot: 0, duration: 0 })
    })
    return id
  }
  cancel = (id: number): void => {
    const callbacks = this.open.get(id)
    this.open.delete(id)
    callbacks?.onFailed(new TaskCancelled({ reason: "cancelled" }))
  }
  subscribe = (): (() => void) => () => undefined
  blobs = new Map<string, Uint8Array>()
  putBlob = (hash: string, data: Uint8Array): void => void this.blobs.set(hash, data)
  missingBlobs = (hashes: ReadonlyArray<string>): string[] => hashes.filter((hash) => !this.blobs.has(hash))
}

/** An in-process client that says hello with `token` and collects messages. */
const goodClient = async (socketPath: string, token: string) => {
  const socket = net.connect(socketPath)
  const decoder = new FrameDecoder()
  const messages: Message[] = []
  socket.on("data", (chunk) => messages.push(...decoder.push(chunk)))
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  socket.write(encodeFrame({ type: "hello", protocol: 1, role: "client", token }))
  return { socket, messages, send: (m: Message) => socket.write(encodeFrame(m)) }
}

const clientProcess = async (socketPath: string, mode: string, token = "") => {
  const { stdout } = await run(process.execPath, [path.join(fixtures, "bridge-client.mjs"), socketPath, mode, token], { timeout: 30_000 })
  return stdout.trim().split("\n")
}

describe("the client bridge of a real pool", () => {
  it("refuses bad connections from other processes with a logged reason, and keeps serving a good client", async () => {
    await ComputePool.use(options, async (pool) => {
      const logs: string[] = []
      const { bridge, close } = await openBridge(pool.effect, (line) => logs.push(line))
      try {
        const good = await goodClient(bridge.socketPath, bridge.token)
        const started = Date.now()
        const expected: Array<[string, string, RegExp]> = [
          ["hello", "not-the-token", /wrong or missing token/],
          ["notoken", "", /wrong or missing token/],
          ["protocol2", bridge.token, /protocol 2 \(this bridge speaks 1\)/],
          ["garbage", "", /unreadable frame/],
          ["huge", "", /first frame of 4294967280 bytes/],
          ["truncated", bridge.token, /ended inside a frame/],
          ["truncated-after-auth", bridge.token, /ended inside a frame/]
        ]
        let id = 0
        for (const [mode, token, reason] of expected) {
          good.send({ type: "submit", id: ++id, kind: "pickle", payload: SIX_TIMES_SEVEN })
          const before = logs.length
          const lines = await clientProcess(bridge.socketPath, mode, token)
          expect(lines.at(-1), mode).toBe("CLOSED")
          // only the good-token truncated-after-auth client got the server's hello
          expect(lines.filter((l) => l.startsWith("{")).length, mode).toBe(mode === "truncated-after-auth" ? 1 : 0)
          await waitFor(`the log line of ${mode}`, () => logs.length > before, 5_000)
          expect(logs.slice(before).join("\n"), mode).toMatch(reason)
        }
        await waitFor("the good client's results", () => good.messages.filter((m) => m.type === "result").length === id, 15_000)
        for (const m of good.messages.filter((m) => m.type === "result")) expect(Buffer.from(m.payload!).toString("hex")).toBe(FORTY_TWO)
        expect(bridge.connections).toBe(1)
        good.socket.destroy()
        report({
          fault: "bridge socket: bad/missing token, protocol 2, garbage, 4 GiB prefix, truncated frames (7 client processes)",
          happened: `each closed with a logged reason (${logs.map((l) => l.replace(/^(refused|closed) a client connection: /, "")).join(" / ").slice(0, 200)}); the good client's ${id} tasks all returned 42`,
          detectSeconds: (Date.now() - started) / 1000 / expected.length,
          correct: true,
          left: []
        })
      } finally {
        await close()
      }
    })
  })

  it("survives a seeded fuzz of 10,000 inputs, each on its own connection", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20240606)
    const rand = mulberry32(seed)
    const pool = new EchoPool()
    const logs: string[] = []
    const { bridge, close } = await openBridge(pool, (line) => logs.push(line))
    try {
      const hello = encodeFrame({ type: "hello", protocol: 1, role: "client", token: bridge.token })
      const corpus = [
        hello,
        Buffer.concat([hello, encodeFrame({ type: "submit", id: 1, kind: "pickle", payload: SIX_TIMES_SEVEN })]),
        Buffer.concat([hello, encodeFrame({ type: "submit", id: 2, kind: "pickle", payload: new Uint8Array(9000).fill(7), timeout: 3 })]),
        Buffer.concat([hello, encodeFrame({ type: "cancel", id: 1 }), encodeFrame({ type: "heartbeat", seq: 3 })]),
        Buffer.concat([hello, encodeFrame({ type: "submit", id: 3, kind: "call", fn: "os:getpid" }), encodeFrame({ type: "shutdown" })]),
        encodeFrame({ type: "submit", id: 4, kind: "pickle", payload: SIX_TIMES_SEVEN }),
        // large arguments: a blob in two chunks (named by its bytes' SHA-256), then a task that refers to it
        Buffer.concat([
          hello,
          encodeFrame({ type: "blob", hash: BLOB_HASH, data: BLOB.subarray(0, 600), offset: 0, total: 1000 }),
          encodeFrame({ type: "blob", hash: BLOB_HASH, data: BLOB.subarray(600), offset: 600, total: 1000 }),
          encodeFrame({ type: "submit", id: 5, kind: "pickle", payload: SIX_TIMES_SEVEN, blobs: [BLOB_HASH] })
        ])
      ]
      const N = Number(process.env.FUZZ_N ?? 10_000)
      const inputs = Array.from({ length: N }, (_, i) => {
        // half of them keep a valid, authenticated hello in front: the fuzz reaches past the handshake
        const base = corpus[Math.floor(rand() * corpus.length)]!
        if (i % 2 === 0 && base.length > hello.length && Buffer.from(base.subarray(0, hello.length)).equals(Buffer.from(hello)))
          return Buffer.concat([hello, mutate(rand, base.subarray(hello.length), corpus)])
        return mutate(rand, base, corpus)
      })
      const started = Date.now()
      let next = 0
      let answered = 0
      const one = (input: Uint8Array) =>
        new Promise<void>((resolve, reject) => {
          const socket = net.connect(bridge.socketPath)
          const timer = setTimeout(() => reject(new Error(`a connection was neither answered nor closed within 10 s: ${Buffer.from(input).toString("hex").slice(0, 200)}`)), 10_000)
          socket.on("data", () => answered++)
          socket.on("error", () => undefined)
          socket.on("close", () => {
            clearTimeout(timer)
            resolve()
          })
          socket.on("connect", () => socket.end(input))
        })
      const worker = async () => {
        while (next < inputs.length) await one(inputs[next++]!)
      }
      await Promise.all(Array.from({ length: 16 }, worker))
      const seconds = (Date.now() - started) / 1000
      await waitFor("every connection gone", () => bridge.connections === 0, 5_000)
      await waitFor("every dispatched task answered or cancelled", () => pool.open.size === 0, 5_000)
      // still serving
      const good = await goodClient(bridge.socketPath, bridge.token)
      good.send({ type: "submit", id: 1, kind: "pickle", payload: SIX_TIMES_SEVEN })
      await waitFor("a result after the fuzz", () => good.messages.some((m) => m.type === "result"), 5_000)
      good.socket.destroy()
      report({
        fault: `bridge fuzz: ${N} seeded inputs (seed ${seed}), one connection each`,
        happened: `no crash; every connection closed; ${pool.dispatched} tasks reached the pool, all answered or cancelled; ${logs.length} refusals logged; served a good client after`,
        detectSeconds: `${seconds.toFixed(1)} s total`,
        correct: true,
        left: []
      })
      expect(logs.length).toBeGreaterThan(N / 4)
      void answered
    } finally {
      await close()
    }
  })
})

// -- the agent ----------------------------------------------------------------------------------

let python = ""
let pythonPath = ""
beforeAll(async () => {
  const image = Schema.decodeSync(ImageSchema)({ files: { "fault_funcs.py": funcs } })
  const env = await Effect.runPromise(prepareLocalEnvironment(image, imageHash(image), 0, () => undefined))
  python = env.python
  pythonPath = [agentModules().path, codecModules().path, fixtures].join(":")
})

/** A standalone agent on pipes, as the local transport starts it. */
const startAgent = (executor: "process" | "thread", concurrency: number) => {
  const child = spawn(python, ["-m", "skyward_worker", "--executor", executor, "--concurrency", String(concurrency)], {
    cwd: fixtures,
    env: { ...process.env, PYTHONPATH: pythonPath },
    stdio: ["pipe", "pipe", "pipe"]
  })
  const decoder = new FrameDecoder()
  const messages: Message[] = []
  let stderr = ""
  child.stdout.on("data", (chunk: Buffer) => messages.push(...decoder.push(chunk)))
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
  child.stdin.on("error", () => undefined)
  const exited = new Promise<number | null>((resolve) => child.on("close", (code) => resolve(code)))
  return { child, messages, stderr: () => stderr, exited }
}

/** A random, well-formed but hostile message for the agent. */
const hostileMessage = (rand: () => number, id: number): Message => {
  const int = (n: number) => Math.floor(rand() * n)
  const pick = <A>(xs: ReadonlyArray<A>): A => xs[int(xs.length)]!
  const value = (depth: number): unknown => {
    switch (int(depth > 2 ? 7 : 9)) {
      case 0:
        return pick([0, -1, 1, 2 ** 31, -(2 ** 53), 2 ** 53 - 1, int(1000)])
      case 1:
        return pick([0.5, -0, Number.NaN, Number.POSITIVE_INFINITY, 1e308, -1e-308])
      case 2:
        return pick(["", "x", "é\u0000\uffff", "a".repeat(int(5000)), "💥"])
      case 3:
        return new Uint8Array(int(64)).map(() => int(256))
      case 4:
        return pick([null, true, false])
      case 5:
        return pick([undefined, null])
      case 6:
        return int(100)
      case 7:
        return Array.from({ length: int(5) }, () => value(depth + 1))
      default:
        return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`k${i}`, value(depth + 1)]))
    }
  }
  const fns = ["fault_funcs:square", "fault_funcs:where", "fault_funcs:no_such", "no_such_module:f", "", "nocolon", "builtins:len", "builtins:repr", "math:sqrt", "operator:add", "json:dumps", "fault_funcs:square.__class__"]
  const payloads = [SIX_TIMES_SEVEN, SIX_TIMES_SEVEN.subarray(0, 30), new Uint8Array(0), Buffer.from(FORTY_TWO, "hex"), new Uint8Array(int(100)).map(() => int(256))]
  switch (int(12)) {
    case 0:
    case 1:
    case 2:
    case 3: {
      const args = Array.from({ length: int(4) }, () => value(0)).filter((a) => a !== undefined)
      return { type: "submit", id, kind: "call", fn: pick(fns), ...(rand() < 0.8 ? { args } : {}), ...(rand() < 0.03 ? { timeout: pick([0.5, 1e9, 0.0001]) } : {}) } as Message
    }
    case 4:
    case 5:
      return { type: "submit", id, kind: "pickle", payload: pick(payloads) } as Message
    case 6:
      return { type: "submit", id, kind: pick(["call", "pickle"] as const) } as Message // no fn / payload
    case 7:
      return { type: "cancel", id: pick([id - 1, id - 5, 0, 2 ** 53 - 1, int(id + 1)]) } as Message
    case 8:
      return { type: "heartbeat", seq: int(1e9), ...(rand() < 0.5 ? { time: value(3) as number } : {}) } as Message
    case 9:
      return { type: "blob", hash: pick(["", "h", "x".repeat(300)]), data: new Uint8Array(int(2048)) } as Message
    case 10:
      return { type: "hello", protocol: pick([0, 1, 2, 999]), role: pick(["agent", "client", "server"] as const) } as Message
    default:
      return pick<Message>([
        { type: "log", stream: "stdout", line: "not for you" },
        { type: "result", id: int(id + 1), value: value(0) },
        { type: "error", id: int(id + 1), kind: "user", excType: "x", message: "y", traceback: "" },
        { type: "started", id: int(id + 1), slot: int(9) }
      ] as Message[])
  }
}

/** The frame of `message` when it is well-formed by the codec's own decoder (the encoder does not validate). */
const safeEncode = (message: Message): Uint8Array | undefined => {
  try {
    const frame = encodeFrame(message)
    new FrameDecoder().push(frame)
    return frame
  } catch {
    return undefined
  }
}

describe("a live agent", () => {
  it("answers or ignores 10,000 hostile well-formed messages, never crashes, and keeps serving", async () => {
    const seed = Number(process.env.FUZZ_SEED ?? 20240607)
    const rand = mulberry32(seed)
    const agent = startAgent("process", 2)
    try {
      await waitFor("hello", () => agent.messages.some((m) => m.type === "hello"), 10_000)
      const N = Number(process.env.FUZZ_N ?? 10_000)
      const submitted = new Set<number>()
      const frames: Uint8Array[] = []
      for (let id = 1; frames.length < N; id++) {
        const message = hostileMessage(rand, id)
        const frame = safeEncode(message)
        if (frame === undefined) continue
        frames.push(frame)
        if (message.type === "submit") submitted.add(id)
      }
      const started = Date.now()
      // in random chunk sizes, as a pipe may deliver them
      const stream = Buffer.concat(frames)
      for (let at = 0; at < stream.length; ) {
        const size = 1 + Math.floor(rand() * 65536)
        if (!agent.child.stdin.write(stream.subarray(at, at + size))) await new Promise((r) => agent.child.stdin.once("drain", r))
        at += size
      }
      const probe = 10_000_000
      agent.child.stdin.write(encodeFrame({ type: "submit", id: probe, kind: "call", fn: "fault_funcs:square", args: [7] }))
      const answered = () =>
        agent.messages.filter((m): m is Extract<Message, { type: "result" | "error" }> => (m.type === "result" || m.type === "error") && m.id !== 0)
      await waitFor("the probe's result", () => agent.messages.find((m) => m.type === "result" && m.id === probe), 60_000).catch((e) => {
        throw new Error(`${(e as Error).message}; ${agent.messages.length} messages, exit ${agent.child.exitCode}; stderr ${agent.stderr().split("\n").filter((l) => !l.includes("ignoring")).join("\n").slice(-3000)}`)
      })
      await waitFor("an answer to every submit", () => new Set(answered().map((m) => m.id)).size >= submitted.size + 1, 30_000).catch((e) => {
        const got = new Set(answered().map((m) => m.id))
        const missing = [...submitted].filter((id) => !got.has(id)).slice(0, 20)
        throw new Error(`${(e as Error).message}; unanswered ${missing.length}: ${missing.join(", ")}; exit ${agent.child.exitCode}; stderr ${agent.stderr().slice(-2000)}`)
      })
      const seconds = (Date.now() - started) / 1000
      const ids = answered().map((m) => m.id)
      expect(new Set(ids).size, "each submit answered exactly once").toBe(ids.length)
      expect([...submitted].every((id) => ids.includes(id))).toBe(true)
      expect(agent.messages.find((m) => m.type === "result" && m.id === probe)).toMatchObject({ value: 49 })
      expect(agent.child.exitCode).toBeNull()
      expect(agent.stderr()).not.toMatch(/internal error|Traceback/)
      const kinds = new Map<string, number>()
      for (const m of answered()) if (m.type === "error") kinds.set(m.kind, (kinds.get(m.kind) ?? 0) + 1)
      report({
        fault: `agent stdin fuzz: ${N} hostile well-formed messages (seed ${seed}), process executor`,
        happened: `no crash; ${submitted.size} submits answered exactly once (${[...kinds].map(([k, n]) => `${n} ${k}`).join(", ")} errors); probe returned 49`,
        detectSeconds: `${seconds.toFixed(1)} s total`,
        correct: true,
        left: []
      })
    } finally {
      agent.child.stdin.end()
      await Promise.race([agent.exited, sleep(5_000)])
      agent.child.kill("SIGKILL")
    }
  })

  it("a corrupt frame (seeded byte mutations) makes it exit with code 2 and a logged reason, never hang or crash", async () => {
    const rand = mulberry32(Number(process.env.FUZZ_SEED ?? 20240608))
    const corpus = [
      encodeFrame({ type: "submit", id: 1, kind: "call", fn: "fault_funcs:square", args: [3] }),
      encodeFrame({ type: "cancel", id: 1 }),
      encodeFrame({ type: "heartbeat", seq: 1, time: 1.5 }),
      encodeFrame({ type: "blob", hash: "abc", data: new Uint8Array(6000).fill(1) })
    ]
    const N = Number(process.env.AGENT_BYTE_FUZZ_N ?? 40)
    const codes = new Map<string, number>()
    const started = Date.now()
    const one = async () => {
      const input = mutate(rand, corpus[Math.floor(rand() * corpus.length)]!, corpus)
      const agent = startAgent("thread", 1)
      agent.child.stdin.end(input)
      const code = await Promise.race([agent.exited, sleep(10_000).then(() => "hang" as const)])
      agent.child.kill("SIGKILL")
      const key = String(code)
      codes.set(key, (codes.get(key) ?? 0) + 1)
      // 0: the bytes were a valid (or incomplete) frame and EOF followed; 2: refused with a reason
      expect(["0", "2"], `${key} for ${Buffer.from(input).toString("hex")}\n${agent.stderr()}`).toContain(key)
      if (code === 2) expect(agent.stderr()).toMatch(/cannot decode a frame from Node/)
      expect(agent.stderr()).not.toMatch(/internal error|Traceback/)
    }
    for (let i = 0; i < N; i += 2) await Promise.all([one(), one()])
    report({
      fault: `agent stdin: ${N} corrupt frames (seeded byte mutations), a fresh agent each`,
      happened: `exit codes ${[...codes].map(([c, n]) => `${c}: ${n}`).join(", ")} (2 = "cannot decode a frame from Node", by design)`,
      detectSeconds: `${((Date.now() - started) / 1000).toFixed(1)} s total`,
      correct: true,
      left: []
    })
  })

  it("garbage on a pool agent's stdin: that node is reported lost and its tasks run elsewhere", async () => {
    // the local provider, with a hand on each agent's input channel (what Node writes frames to)
    const channels = new Map<number, AgentChannel>()
    const base = local()
    const provider: ProviderDefinition = {
      name: "local",
      layer: Layer.map(base.layer, (context) => {
        const transport = Context.get(context, Transport)
        return Context.add(context, Transport, {
          ...transport,
          connect: (node) =>
            Effect.map(transport.connect(node), (session) => ({
              ...session,
              startAgent: (launch: AgentLaunch) => Effect.tap(session.startAgent(launch), (channel) => Effect.sync(() => channels.set(node.index, channel)))
            }))
        })
      })
    }
    const events: PoolEvent[] = []
    let injectedAt = 0
    let lostAt = 0
    const results = await ComputePool.use(
      { ...options, provider },
      async (pool) => {
        const running = pool.map<number>("fault_funcs:slow_square", Array.from({ length: 40 }, (_, i) => i))
        await waitFor("tasks on node 1", () => events.some((e) => e._tag === "TaskDone" && e.node === 1), 20_000)
        injectedAt = Date.now()
        channels.get(1)!.write(Buffer.from([0, 0, 0, 5, 0xff, 0xfe, 0xfd, 0xfc, 0xfb]))
        return running
      },
      (event) => {
        events.push(event)
        if (event._tag === "NodeLost") lostAt = Date.now()
      }
    )
    expect(results).toEqual(Array.from({ length: 40 }, (_, i) => i * i))
    const lost = events.filter((e): e is Extract<PoolEvent, { _tag: "NodeLost" }> => e._tag === "NodeLost")
    expect(lost.map((e) => e.node)).toEqual([1])
    expect(lost[0]!.reason).toMatch(/exited with code 2/)
    const retried = events.filter((e) => e._tag === "TaskRetried").length
    report({ fault: "garbage written into a live pool agent's stdin (2 local nodes)", happened: `agent exited 2 ("cannot decode a frame from Node"); NodeLost node 1; map of 40 correct`, detectSeconds: (lostAt - injectedAt) / 1000, retried, correct: true, left: [] })
  })

  it("CBOR undefined in a task's arguments (what JavaScript's undefined encodes to) fails that task only", async () => {
    await ComputePool.use({ ...options, nodes: 1 }, async (pool) => {
      const error = await pool.map("fault_funcs:square", [[1, undefined]]).catch((e: unknown) => e)
      expect(error).toMatchObject({ _tag: "SerializationError" })
      expect((error as Error).message).toMatch(/cannot be handed to a worker process/)
      expect(await pool.map("fault_funcs:square", [6])).toEqual([36])
      report({ fault: "`undefined` inside a task's args (TS API)", happened: `SerializationError: ${(error as Error).message.slice(0, 100)}; the agent lives (before the fix: agent crash, node lost, every node lost on retry)`, correct: true, left: [] })
    })
  })
})
