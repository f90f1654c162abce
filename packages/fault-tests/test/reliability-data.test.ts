// What a joblib client hands over, issue 24 items 4 and 14. Large arguments: the pool's argument
// limit reaches the agents and the client; a client refuses an argument over it before anything is
// sent, naming its size, the limit and how to raise it; and no blob announcement or frame length,
// however large, crashes the bridge or makes it buffer what it cannot hold. Blob content: a blob
// whose bytes do not hash to its name is refused where it arrives, and a later correct upload wins.
import { execFile } from "node:child_process"
import { createHash, randomBytes } from "node:crypto"
import net from "node:net"
import path from "node:path"
import { promisify } from "node:util"
import { encodeFrame, FrameDecoder, type Message } from "@skyward/codec"
import { ComputePool } from "@skyward/core"
import type { PoolEvent, PoolOptionsInput, TaskCallbacks, TaskSpec } from "@skyward/contracts"
import { joblib, type BridgePool } from "@skyward/plugin-joblib"
import { openBridge } from "./bridge-support.js"
import { describe, expect, it } from "vitest"
import { describeProcess, descendants, fixtures, isTag, leftoversOf, report, runCli, trackRuns, venvPython, waitFor, cases } from "./support.js"

const run = promisify(execFile)
const MiB = 1024 ** 2
const GiB = 1024 ** 3
const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")
/** cloudpickle.dumps(functools.partial(operator.mul, 6, 7)) and cloudpickle.dumps(42). */
const SIX_TIMES_SEVEN = Buffer.from(
  "80059540000000000000008c0966756e63746f6f6c73948c077061727469616c9493948c095f6f70657261746f72948c036d756c949394859452942868054b064b0786947d944e7494622e",
  "hex"
)
const FORTY_TWO = "80054b2a2e"
const script = path.join(fixtures, "large_arguments.py")

const runs = trackRuns()

/** A pool that answers every task with its own payload and keeps the blobs it is given. */
class RecordingPool implements BridgePool {
  totalSlots = 2
  readonly blobs = new Map<string, Uint8Array>()
  private next = 1
  dispatch = (spec: TaskSpec, callbacks: TaskCallbacks): number => {
    setImmediate(() => callbacks.onDone({ payload: spec.payload ?? new Uint8Array(), node: 0, slot: 0, duration: 0 }))
    return this.next++
  }
  cancel = (): void => undefined
  subscribe = (): (() => void) => () => undefined
  putBlob = (hash: string, data: Uint8Array): void => void this.blobs.set(hash, data)
  missingBlobs = (hashes: ReadonlyArray<string>): string[] => hashes.filter((hash) => !this.blobs.has(hash))
}

/** A raw client: says hello with `token`, collects what the bridge sends. */
const connect = async (socketPath: string, token: string) => {
  const socket = net.connect(socketPath)
  const decoder = new FrameDecoder()
  const messages: Message[] = []
  let closed = false
  socket.on("data", (chunk) => messages.push(...decoder.push(chunk)))
  socket.on("close", () => (closed = true))
  socket.on("error", () => undefined)
  await new Promise<void>((resolve) => socket.once("connect", () => resolve()))
  socket.write(encodeFrame({ type: "hello", protocol: 1, role: "client", token }))
  const answer = (id: number) => waitFor(`the answer to task ${id}`, () => messages.find((m) => (m.type === "result" || m.type === "error") && m.id === id), 10_000)
  return {
    socket,
    messages,
    answer,
    isClosed: () => closed,
    send: (message: Message) => socket.write(encodeFrame(message)),
    /** Sends `data` as blob `hash` in chunks of `chunk` bytes, as the Python client does. */
    sendBlob: (hash: string, data: Uint8Array, chunk: number) => {
      for (let offset = 0; offset < data.byteLength; offset += chunk)
        socket.write(encodeFrame({ type: "blob", hash, data: data.subarray(offset, offset + chunk), offset, total: data.byteLength }))
    }
  }
}

/** Node's hello to a client, once it came. */
const serverHello = (messages: Message[]) => waitFor("the server's hello", () => messages.find((m) => m.type === "hello"), 5_000)

describe("large arguments (issue 24, item 4)", () => {
  it("a blob announced at 4.5 GiB and a 4 GiB frame are refused without being held, and the bridge keeps serving", async () => {
    const pool = new RecordingPool()
    const logs: string[] = []
    const { bridge, close } = await openBridge(pool, (line) => logs.push(line))
    try {
      const client = await connect(bridge.socketPath, bridge.token)
      const hello = await serverHello(client.messages)
      const start = randomBytes(64 * 1024)
      const huge = sha256(start) // the name of some blob whose first 64 KiB these are
      const before = process.memoryUsage().arrayBuffers
      const started = Date.now()
      client.send({ type: "blob", hash: huge, data: start, offset: 0, total: 4.5 * GiB })
      client.send({ type: "submit", id: 1, kind: "pickle", payload: SIX_TIMES_SEVEN, blobs: [huge] })
      const refused = await client.answer(1)
      expect(refused).toMatchObject({ type: "error", kind: "pickle", excType: "skyward.BlobTooLarge" })
      expect((refused as { message: string }).message).toMatch(
        new RegExp(`^blob ${huge} of 4\\.5 GiB is over the pool's argument limit of 1\\.0 GiB \\(pool option argumentLimit, skyward run --argument-limit\\)`)
      )
      expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(256 * MiB)
      expect(pool.blobs.size).toBe(0)
      // the same connection goes on: a task without blobs runs
      client.send({ type: "submit", id: 2, kind: "pickle", payload: SIX_TIMES_SEVEN })
      expect(await client.answer(2)).toMatchObject({ type: "result" })
      expect(client.isClosed()).toBe(false)

      // after the hello, a length prefix of ~4 GiB closes that connection before any body is buffered
      const other = await connect(bridge.socketPath, bridge.token)
      await serverHello(other.messages)
      other.socket.write(Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0xf0]), randomBytes(60)]))
      await waitFor("the connection with a 4 GiB frame closed", () => other.isClosed(), 5_000)
      expect(logs.join("\n")).toMatch(/frame of 4294967280 bytes exceeds the limit/)
      client.send({ type: "submit", id: 3, kind: "pickle", payload: SIX_TIMES_SEVEN })
      expect(Buffer.from((await client.answer(3) as { payload: Uint8Array }).payload).toString("hex")).toBe(SIX_TIMES_SEVEN.toString("hex"))
      // the client was told the limit (the default: 1 GiB)
      expect(hello).toMatchObject({ type: "hello", role: "server", maxBlobBytes: GiB })
      client.socket.destroy()
      report({
        fault: "bridge: a blob announced at 4.5 GiB; a 4 GiB frame after the hello",
        happened: `task naming the blob failed: ${(refused as { message: string }).message.slice(0, 120)}…; the frame's connection closed (logged); the first client kept working`,
        detectSeconds: (Date.now() - started) / 1000,
        correct: true,
        left: []
      })
    } finally {
      await close()
    }
  })

  it("the pool's argumentLimit reaches the agents and the client's hello; a blob over it is refused before it reaches the pool", async () => {
    const options: PoolOptionsInput = { nodes: 1, worker: { concurrency: 1 }, plugins: [joblib()], argumentLimit: 8 * MiB, workdir: false }
    const events: PoolEvent[] = []
    await ComputePool.use(
      options,
      async (pool) => {
        const agents = descendants().map(describeProcess).filter((p) => p.includes("skyward_worker"))
        expect(agents).toHaveLength(1)
        expect(agents[0]).toMatch(/ --max-blob-bytes 8388608( |$)/)
        const { SKYWARD_BRIDGE: socketPath, SKYWARD_TOKEN: token } = pool.client.env as Record<string, string>
        const client = await connect(socketPath!, token!)
        expect(await serverHello(client.messages)).toMatchObject({ maxBlobBytes: 8 * MiB })

        const over = randomBytes(9 * MiB)
        client.sendBlob(sha256(over), over, 3 * MiB)
        client.send({ type: "submit", id: 1, kind: "pickle", payload: SIX_TIMES_SEVEN, blobs: [sha256(over)] })
        const refused = await client.answer(1)
        expect(refused).toMatchObject({ type: "error", kind: "pickle", excType: "skyward.BlobTooLarge" })
        expect((refused as { message: string }).message).toMatch(/of 9\.0 MiB is over the pool's argument limit of 8\.0 MiB/)
        expect(pool.missingBlobs([sha256(over)])).toEqual([sha256(over)])

        const within = randomBytes(6 * MiB)
        client.sendBlob(sha256(within), within, 4 * MiB)
        client.send({ type: "submit", id: 2, kind: "pickle", payload: SIX_TIMES_SEVEN, blobs: [sha256(within)] })
        const ran = await client.answer(2)
        expect(ran).toMatchObject({ type: "result" })
        expect(Buffer.from((ran as { payload: Uint8Array }).payload).toString("hex")).toBe(FORTY_TWO)
        expect(events.filter(isTag("BlobSent")).map((e) => e.bytes)).toEqual([6 * MiB])
        client.socket.destroy()
      },
      (event) => events.push(event)
    )
  })

  it("skyward run: an argument over the limit is refused in the client before anything is sent, naming its size, the limit and how to raise it", async () => {
    const byDefault = await runCli(["run", "--json", "--nodes", "1", "--concurrency", "2", "--plugin", "joblib", script, "default"])
    runs.push(byDefault)
    expect(byDefault.code, byDefault.stderr.slice(-2000)).toBe(0)
    const got = cases(byDefault.stdout)
    for (const [name, size] of [["4.5GiB-buffer", "4\\.5 GiB"], ["1.5GiB-buffer", "1\\.5 GiB"]] as const) {
      expect(got[name]).toMatch(
        new RegExp(
          `^TaskPicklingError: argument 0 \\(pickle\\.PickleBuffer\\) of the call to size_and_last\\(\\) holds ${size} of large buffers; ` +
            "one task may carry at most 1\\.0 GiB of them \\(the pool's argument limit\\)\\. Raise it with skyward run --argument-limit SIZE " +
            "\\(pool option argumentLimit\\)"
        )
      )
      // checked before the buffer is hashed or sent: at once
      expect(Number(/\(([\d.]+)s\)$/.exec(got[name]!)![1])).toBeLessThan(1)
    }
    // only the two `alive` calls reached the pool; nothing was sent beside them
    expect(byDefault.events.filter(isTag("TaskQueued"))).toHaveLength(8)
    expect(byDefault.events.filter(isTag("BlobSent"))).toEqual([])
    expect(byDefault.stdout.match(/^alive: \[0, 1, 4, 9\]$/gm)).toHaveLength(2)
    expect(await leftoversOf(byDefault)).toEqual([])

    const limited = await runCli(["run", "--json", "--nodes", "1", "--concurrency", "2", "--argument-limit", "4MiB", "--plugin", "joblib", script, "limited"])
    runs.push(limited)
    expect(limited.code, limited.stderr.slice(-2000)).toBe(0)
    const small = cases(limited.stdout)
    expect(small["agent-limit"]).toMatch(/^ok \['4194304'\]/)
    expect(small["3MiB-buffer"]).toMatch(/^ok \[\(3145728, 7\)\]/)
    expect(small["6MiB-buffer"]).toMatch(/^TaskPicklingError: argument 0 \(pickle\.PickleBuffer\) of the call to size_and_last\(\) holds 6\.0 MiB of large buffers; one task may carry at most 4\.0 MiB of them/)
    expect(small["two-3MiB-buffers"]).toMatch(
      /^TaskPicklingError: the arguments of the call to sizes\(\) hold 6\.0 MiB of large buffers \(the largest: argument 0 \(pickle\.PickleBuffer\), 3\.0 MiB\); one task may carry at most 4\.0 MiB of them/
    )
    expect(limited.events.filter(isTag("BlobSent")).map((e) => e.bytes)).toEqual([3 * MiB])
    expect(limited.stdout.match(/^alive: \[0, 1, 4, 9\]$/gm)).toHaveLength(4)
    const left = await leftoversOf(limited)
    expect(left).toEqual([])
    for (const [name, text] of Object.entries({ ...got, ...small }))
      report({ fault: `Python: ${name} argument (joblib)`, happened: String(text).slice(0, 160), detectSeconds: /\(([\d.]+)s\)$/.exec(String(text))?.[1] + " s", retried: 0, correct: String(text).startsWith("ok") ? "yes (works)" : "yes (clear error, next call works)", left })
  })
})

describe("blob content (issue 24, item 14)", () => {
  it("a blob whose bytes do not hash to its name is refused where it arrives; the correct upload that follows is the one the workers get", async () => {
    const data = randomBytes(2 * MiB)
    const hash = sha256(data)
    const other = randomBytes(2 * MiB)
    // a task that answers the SHA-256 of the one buffer it was given out of band (the blob)
    const { stdout } = await run(venvPython, [
      "-c",
      "import cloudpickle, hashlib, pickle, sys\n" +
        "buf = pickle.PickleBuffer(bytearray(1 << 20))\n" +
        "def digest(): return hashlib.sha256(buf).hexdigest()\n" +
        "sys.stdout.write(cloudpickle.dumps(digest, protocol=5, buffer_callback=lambda b: False).hex())"
    ])
    const digest = Buffer.from(stdout, "hex")
    await ComputePool.use({ nodes: 1, worker: { concurrency: 1 }, workdir: false }, async (pool) => {
      const logs: string[] = []
      const { bridge, close } = await openBridge(pool, (line) => logs.push(line))
      try {
        const client = await connect(bridge.socketPath, bridge.token)
        const started = Date.now()
        // other bytes under its name, in one frame, then in chunks whose second half is wrong
        client.sendBlob(hash, other, 4 * MiB)
        client.send({ type: "submit", id: 1, kind: "pickle", payload: digest, blobs: [hash] })
        const whole = await client.answer(1)
        client.sendBlob(hash, Buffer.concat([data.subarray(0, MiB), other.subarray(MiB)]), MiB)
        client.send({ type: "submit", id: 2, kind: "pickle", payload: digest, blobs: [hash] })
        const chunked = await client.answer(2)
        for (const [answer, content] of [[whole, other], [chunked, Buffer.concat([data.subarray(0, MiB), other.subarray(MiB)])]] as const) {
          expect(answer).toMatchObject({ type: "error", kind: "pickle", excType: "skyward.BlobMismatch" })
          expect((answer as { message: string }).message).toBe(
            `blob ${hash} (2.0 MiB) arrived with other content (SHA-256 ${sha256(content)}): refused. ` +
              "Its buffer changed after it was hashed, or the bytes were damaged on the way"
          )
        }
        expect(pool.missingBlobs([hash])).toEqual([hash])
        expect(client.isClosed()).toBe(false)
        // the right bytes are kept, and they are what the task sees on its node
        client.sendBlob(hash, data, MiB)
        client.send({ type: "submit", id: 3, kind: "pickle", payload: digest, blobs: [hash] })
        const ran = await client.answer(3)
        expect(ran.type, JSON.stringify(ran).slice(0, 400)).toBe("result")
        expect(Buffer.from((ran as { payload: Uint8Array }).payload).toString("latin1")).toContain(hash)
        client.socket.destroy()
        report({
          fault: "blob uploaded with content that does not match its hash (whole, chunked), then correctly",
          happened: `both refused at the bridge (${(whole as { message: string }).message.slice(0, 100)}…); the correct upload was kept and the task saw it`,
          detectSeconds: (Date.now() - started) / 1000,
          correct: true,
          left: []
        })
      } finally {
        await close()
      }
    })
  })
})
