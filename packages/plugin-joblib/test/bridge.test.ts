import { execFile } from "node:child_process"
import { createHash } from "node:crypto"
import fs from "node:fs"
import net from "node:net"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { type ErrorFrame, errorExcTypes, errorTexts, FrameDecoder, encodeFrame, type Message } from "@skyward/codec"
import { type PoolEvent, RemoteError, type TaskCallbacks, TaskCancelled, type TaskSpec, TaskTimeout, WorkerLost } from "@skyward/contracts"
import { Effect, Exit, Scope } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { startBridge, type Bridge, type BridgeOptions, type BridgePool } from "../src/index.js"

const run = promisify(execFile)
const here = path.dirname(fileURLToPath(import.meta.url))
const clientScript = path.join(here, "fixtures", "client.mjs")

/** A pool that answers every task with the payload it was given, or holds it until told. */
class FakePool implements BridgePool {
  totalSlots = 4
  readonly cancelled: number[] = []
  readonly held = new Map<number, TaskCallbacks>()
  readonly blobs = new Map<string, Uint8Array>()
  readonly dispatched: TaskSpec[] = []
  hold = false
  private nextId = 1
  private listeners: Array<(event: PoolEvent) => void> = []

  dispatch = (spec: TaskSpec, callbacks: TaskCallbacks): number => {
    const id = this.nextId++
    this.dispatched.push(spec)
    if (this.hold) this.held.set(id, callbacks)
    else
      setImmediate(() => {
        callbacks.onStarted?.(1, 0)
        callbacks.onLog?.(1, "stdout", "working")
        callbacks.onDone({ payload: spec.payload!, node: 1, slot: 0, duration: 0.01 })
      })
    return id
  }

  putBlob = (hash: string, data: Uint8Array): void => void this.blobs.set(hash, data)

  missingBlobs = (hashes: ReadonlyArray<string>): string[] => hashes.filter((hash) => !this.blobs.has(hash))

  cancel = (id: number): void => {
    this.cancelled.push(id)
    const callbacks = this.held.get(id)
    this.held.delete(id)
    callbacks?.onFailed(new TaskCancelled({ reason: "by the caller" }))
  }

  subscribe = (listener: (event: PoolEvent) => void): (() => void) => {
    this.listeners.push(listener)
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener)
    }
  }

  emit(event: PoolEvent): void {
    for (const listener of this.listeners) listener(event)
  }
}

let scopes: Scope.CloseableScope[] = []

const open = async (pool: BridgePool, options: BridgeOptions = {}): Promise<{ bridge: Bridge; close: () => Promise<void> }> => {
  const scope = Effect.runSync(Scope.make())
  scopes.push(scope)
  const bridge = await Effect.runPromise(Scope.extend(startBridge(pool, options), scope))
  return { bridge, close: () => Effect.runPromise(Scope.close(scope, Exit.void)) }
}

afterEach(async () => {
  for (const scope of scopes) await Effect.runPromise(Scope.close(scope, Exit.void))
  scopes = []
})

const clientProcess = async (socketPath: string, mode: string, token = "", env: Record<string, string> = {}) => {
  const { stdout } = await run(process.execPath, [clientScript, socketPath, mode, token], {
    env: { ...process.env, ...env },
    timeout: 30_000
  })
  return stdout.trim().split("\n")
}

/** An in-process client: connects, says hello, collects messages. */
const connect = async (socketPath: string, token: string) => {
  const socket = net.connect(socketPath)
  const decoder = new FrameDecoder()
  const messages: Message[] = []
  const waiters: Array<() => void> = []
  let closed = false
  socket.on("data", (chunk) => {
    messages.push(...decoder.push(chunk))
    waiters.splice(0).forEach((w) => w())
  })
  socket.on("close", () => {
    closed = true
    waiters.splice(0).forEach((w) => w())
  })
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  socket.write(encodeFrame({ type: "hello", protocol: 1, role: "client", token }))
  const until = async (predicate: (ms: Message[]) => boolean, ms = 10_000) => {
    const deadline = Date.now() + ms
    while (!predicate(messages)) {
      if (closed) throw new Error("connection closed")
      if (Date.now() > deadline) throw new Error(`timed out; got ${JSON.stringify(messages.map((m) => m.type))}`)
      await new Promise<void>((resolve) => {
        waiters.push(resolve)
        setTimeout(resolve, 50)
      })
    }
  }
  return {
    socket,
    messages,
    until,
    send: (message: Message) => socket.write(encodeFrame(message)),
    isClosed: () => closed
  }
}

describe("the client bridge", () => {
  it("lives in a private 0700 directory that release removes", async () => {
    const { bridge, close } = await open(new FakePool(), { log: () => {} })
    expect(path.basename(bridge.socketPath)).toBe("bridge.sock")
    expect(path.dirname(bridge.socketPath)).toBe(bridge.directory)
    expect(fs.statSync(bridge.directory).mode & 0o777).toBe(0o700)
    expect(fs.statSync(bridge.socketPath).isSocket()).toBe(true)
    expect(bridge.token).toMatch(/^[0-9a-f]{64}$/)
    expect(bridge.env).toEqual({ SKYWARD_BRIDGE: bridge.socketPath, SKYWARD_TOKEN: bridge.token })
    await close()
    expect(fs.existsSync(bridge.directory)).toBe(false)
  })

  it("gives every bridge its own token", async () => {
    const a = await open(new FakePool(), { log: () => {} })
    const b = await open(new FakePool(), { log: () => {} })
    expect(a.bridge.token).not.toBe(b.bridge.token)
    expect(a.bridge.directory).not.toBe(b.bridge.directory)
  })

  it("refuses a wrong token, garbage and a wrong protocol from other processes, and keeps serving", async () => {
    const logs: string[] = []
    const pool = new FakePool()
    const { bridge } = await open(pool, { log: (line) => logs.push(line) })

    expect(await clientProcess(bridge.socketPath, "hello", "not-the-token")).toEqual(["CLOSED"])
    expect(await clientProcess(bridge.socketPath, "hello", "")).toEqual(["CLOSED"])
    expect(await clientProcess(bridge.socketPath, "garbage")).toEqual(["CLOSED"])
    expect(await clientProcess(bridge.socketPath, "huge")).toEqual(["CLOSED"])
    expect(await clientProcess(bridge.socketPath, "protocol2", bridge.token)).toEqual(["CLOSED"])
    expect(logs).toHaveLength(5)
    expect(logs[0]).toMatch(/wrong or missing token/)
    expect(logs[1]).toMatch(/wrong or missing token/)
    expect(logs[2]).toMatch(/unreadable frame/)
    expect(logs[3]).toMatch(/first frame of 4294967280 bytes/)
    expect(logs[4]).toMatch(/protocol 2/)

    const lines = await clientProcess(bridge.socketPath, "submit", bridge.token, { SKYWARD_PAYLOAD: "80054b2a2e" })
    const messages = lines.filter((l) => l !== "CLOSED").map((l) => JSON.parse(l) as Record<string, unknown>)
    expect(messages[0]).toMatchObject({ type: "hello", protocol: 1, role: "server", slots: 4 })
    expect(messages.map((m) => m.type)).toEqual(["hello", "log", "result"]) // no `started` notice
    expect(messages[1]).toMatchObject({ id: 7, node: 1, stream: "stdout", line: "working" })
    expect(messages[2]).toMatchObject({ id: 7, payload: "80054b2a2e", node: 1, slot: 0 })
    expect(pool.cancelled).toEqual([])
    expect(bridge.connections).toBe(0)
  })

  it("forwards payloads of any size untouched, in both directions", async () => {
    const { bridge } = await open(new FakePool(), { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    const big = new Uint8Array(3 * 1024 * 1024).map((_, i) => (i * 7919) % 251)
    client.send({ type: "submit", id: 1, kind: "pickle", payload: big })
    client.send({ type: "submit", id: 2, kind: "pickle", payload: new Uint8Array([1, 2, 3]) })
    await client.until((ms) => ms.filter((m) => m.type === "result").length === 2)
    const results = client.messages.filter((m) => m.type === "result")
    const byId = new Map(results.map((m) => [m.id, m.payload]))
    expect(Buffer.from(byId.get(1)!).equals(Buffer.from(big))).toBe(true)
    expect([...byId.get(2)!]).toEqual([1, 2, 3])
    client.socket.destroy()
  })

  it("assembles blobs from chunks for the pool, and asks again for a blob the pool does not hold", async () => {
    const pool = new FakePool()
    const lines: string[] = []
    const { bridge } = await open(pool, { log: (line) => lines.push(line) })
    const client = await connect(bridge.socketPath, bridge.token)
    const data = new Uint8Array(1000).map((_, i) => i % 256)
    const hash = createHash("sha256").update(data).digest("hex")
    client.send({ type: "submit", id: 1, kind: "pickle", payload: new Uint8Array([1]), blobs: [hash] })
    await client.until((ms) => ms.some((m) => m.type === "error"))
    expect(client.messages.find((m) => m.type === "error")).toMatchObject({ id: 1, kind: "blob", message: expect.stringContaining(hash) })
    expect(pool.dispatched).toEqual([])
    client.send({ type: "blob", hash, data: data.subarray(0, 600), offset: 0, total: 1000 })
    client.send({ type: "blob", hash, data: data.subarray(600), offset: 600, total: 1000 })
    client.send({ type: "submit", id: 1, kind: "pickle", payload: new Uint8Array([1]), blobs: [hash] })
    await client.until((ms) => ms.some((m) => m.type === "result"))
    expect(Buffer.from(pool.blobs.get(hash)!).equals(Buffer.from(data))).toBe(true)
    expect(pool.dispatched[0]?.blobs).toEqual([hash])
    // a blob that is not named by a content hash closes that connection, with a logged reason
    client.send({ type: "blob", hash: "../../etc/passwd", data })
    await client.until(() => client.isClosed()).catch(() => undefined)
    expect(client.isClosed()).toBe(true)
    expect(lines.join("\n")).toMatch(/expected a SHA-256 in hex/)
  })

  it("passes on how many of the script's calls a task runs (for progress), and nothing when the client does not say", async () => {
    const pool = new FakePool()
    const { bridge } = await open(pool, { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    client.send({ type: "submit", id: 1, kind: "pickle", payload: new Uint8Array([1]), calls: 3 })
    client.send({ type: "submit", id: 2, kind: "pickle", payload: new Uint8Array([2]) })
    await client.until((ms) => ms.filter((m) => m.type === "result").length === 2)
    expect(pool.dispatched.map((spec) => spec.calls)).toEqual([3, undefined])
  })

  it("names each connection's tasks with a client of their own, so the pool shares its slots between scripts", async () => {
    const pool = new FakePool()
    const { bridge } = await open(pool, { log: () => {} })
    const first = await connect(bridge.socketPath, bridge.token)
    const second = await connect(bridge.socketPath, bridge.token)
    first.send({ type: "submit", id: 1, kind: "pickle", payload: new Uint8Array([1]) })
    first.send({ type: "submit", id: 2, kind: "pickle", payload: new Uint8Array([2]) })
    await first.until((ms) => ms.filter((m) => m.type === "result").length === 2)
    second.send({ type: "submit", id: 1, kind: "pickle", payload: new Uint8Array([3]) })
    await second.until((ms) => ms.some((m) => m.type === "result"))
    const [a, b, c] = pool.dispatched.map((spec) => spec.client)
    expect(a).toBeDefined()
    expect(b).toBe(a)
    expect(c).toBeDefined()
    expect(c).not.toBe(a)
  })

  it("announces a new slot count when the pool loses a node", async () => {
    const pool = new FakePool()
    const { bridge } = await open(pool, { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    await client.until((ms) => ms.length === 1)
    pool.totalSlots = 2
    pool.emit({ _tag: "NodeLost", node: 1, reason: "test", inFlight: [] })
    await client.until((ms) => ms.length === 2)
    expect(client.messages[1]).toMatchObject({ type: "hello", role: "server", slots: 2 })
    client.socket.destroy()
  })

  it("cancels on request, and cancels everything pending when the client goes away", async () => {
    const pool = new FakePool()
    pool.hold = true
    const { bridge } = await open(pool, { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    for (const id of [10, 11, 12]) client.send({ type: "submit", id, kind: "pickle", payload: new Uint8Array([id]) })
    await client.until(() => pool.held.size === 3)
    client.send({ type: "cancel", id: 11 })
    await client.until((ms) => ms.some((m) => m.type === "error"))
    expect(client.messages.find((m) => m.type === "error")).toMatchObject({ id: 11, kind: "cancelled", message: errorTexts.cancelled("by the caller") })
    client.socket.destroy()
    const deadline = Date.now() + 5_000
    while (pool.cancelled.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(pool.cancelled.sort()).toEqual([1, 2, 3])
  })

  it("forwards an agent's error frame as it was, and words the errors Node made as the codec does", async () => {
    const pool = new FakePool()
    pool.hold = true
    const { bridge } = await open(pool, { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    for (const id of [5, 6, 7]) client.send({ type: "submit", id, kind: "pickle", payload: new Uint8Array([id]) })
    await client.until(() => pool.held.size === 3)
    // the agent's frame: a kind the tagged error does not name, its exception, warnings, node and slot
    // (Buffers: what the client's decoder gives back)
    const frame: ErrorFrame = {
      kind: "protocol",
      excType: "skyward.ProtocolError",
      message: "submit of kind 'pickle' needs a bytes 'payload'",
      traceback: "Traceback (most recent call last):\n  ...",
      payload: Buffer.from([1, 2, 3]),
      warnings: [Buffer.from([4])],
      node: 1,
      slot: 3
    }
    pool.held.get(1)!.onFailed(new RemoteError({ excType: "x", message: "not this", traceback: "", node: 0, frame }))
    pool.held.get(2)!.onFailed(new WorkerLost({ attempts: 2, message: errorTexts.lost("node 0 was lost: killed", 2), node: 0 }))
    pool.held.get(3)!.onFailed(new TaskTimeout({ seconds: 2.5, node: 1 }))
    await client.until((ms) => ms.filter((m) => m.type === "error").length === 3)
    const errors = client.messages.filter((m) => m.type === "error")
    expect(errors[0]).toEqual({ type: "error", id: 5, ...frame })
    expect(errors[1]).toEqual({ type: "error", id: 6, kind: "lost", excType: errorExcTypes.lost, message: "node 0 was lost: killed (attempts: 2)", traceback: "", node: 0 })
    expect(errors[2]).toEqual({ type: "error", id: 7, kind: "timeout", excType: errorExcTypes.timeout, message: errorTexts.timeout(2.5), traceback: "", node: 1 })
    client.send({ type: "submit", id: 8, kind: "call", fn: "os:getpid" })
    await client.until((ms) => ms.filter((m) => m.type === "error").length === 4)
    expect(client.messages.filter((m) => m.type === "error")[3]).toMatchObject({ id: 8, kind: "protocol", excType: errorExcTypes.protocol })
    client.socket.destroy()
  })

  it("closes its connections when released", async () => {
    const { bridge, close } = await open(new FakePool(), { log: () => {} })
    const client = await connect(bridge.socketPath, bridge.token)
    await client.until((ms) => ms.length === 1)
    await close()
    const deadline = Date.now() + 5_000
    while (!client.isClosed() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20))
    expect(client.isClosed()).toBe(true)
  })
})
