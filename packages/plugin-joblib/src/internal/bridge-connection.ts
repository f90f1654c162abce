import { timingSafeEqual } from "node:crypto"
import type { Socket } from "node:net"
import { type Blob, FrameBatcher, FrameDecoder, type Message, type Submit } from "@skyward/codec"
import type { ComputePoolShape, TaskError } from "@skyward/contracts"
import { BlobIntake } from "./blob-intake.js"
import { BRIDGE_PROTOCOL, blobError, blobRefusedError, protocolError, toErrorMessage, toStream } from "./protocol.js"

/** What the bridge needs of a pool: slots, dispatch/cancel, and its events. */
export type BridgePool = Partial<Pick<ComputePoolShape, "elastic" | "cluster">> & Pick<ComputePoolShape, "totalSlots" | "dispatch" | "cancel" | "subscribe" | "putBlob" | "missingBlobs">

/** Bytes an unauthenticated peer may make us buffer before its `hello` (a hello is ~100 bytes). */
const PRE_HELLO_LIMIT = 64 * 1024
/** Above this many queued output bytes the connection stops reading until the socket drains. */
const WRITE_HIGH_WATER = 8 * 1024 * 1024

/** The next connection's client id (`TaskSpec.client`): unique in this process. */
let nextClient = 1

interface PendingTask {
  /** The pool's id for it (-1 until `dispatch` returned). */
  poolId: number
  done: boolean
}

/** Settings a connection gets from its server. */
export interface ConnectionSettings {
  readonly token: string
  readonly helloTimeoutMs: number
  /** The most blob bytes one task may refer to (told to the client in the hello); a larger blob is refused. */
  readonly maxBlobBytes: number
  readonly log: (line: string) => void
  readonly onClose: (connection: BridgeConnection) => void
}

const tokenMatches = (given: string | undefined, expected: string): boolean => {
  if (given === undefined) return false
  const a = Buffer.from(given, "utf8")
  const b = Buffer.from(expected, "utf8")
  return a.length === b.length && timingSafeEqual(a, b)
}

/**
 * One client process on the bridge socket: authenticates its `hello`, turns its `submit`s into
 * `pool.dispatch` calls and streams `log` / `result` / `error` back. No `started`: a joblib batch
 * needs only its answer, and a notice per batch would wake the client's reader for nothing.
 * Payload bytes are forwarded untouched. Outgoing frames are batched into one write per burst;
 * when the socket's buffer grows past a high-water mark, reading pauses until it drains. Each
 * connection is one client of the pool: its tasks share the slots fairly with other connections'.
 */
export class BridgeConnection {
  private readonly decoder = new FrameDecoder()
  /** Bytes received before the hello frame is complete (parsed by hand, to bound them). */
  private preHello: Buffer | undefined = Buffer.alloc(0)
  private readonly tasks = new Map<number, PendingTask>()
  private readonly blobs: BlobIntake
  // Results are forwarded as they are: compressing them again in JavaScript costs more than it saves.
  private readonly outbox = new FrameBatcher((bytes) => this.write(bytes), { compressThreshold: Infinity })
  private authenticated = false
  private closed = false
  private paused = false
  private lastSlots = -1
  /** This connection's tasks' `client`, so the pool shares its slots fairly between connections. */
  readonly client = nextClient++
  private readonly helloTimer: ReturnType<typeof setTimeout>

  constructor(
    private readonly socket: Socket,
    private readonly pool: BridgePool,
    private readonly settings: ConnectionSettings
  ) {
    this.helloTimer = setTimeout(
      () => this.refuse(`no hello within ${settings.helloTimeoutMs / 1000}s`),
      settings.helloTimeoutMs
    )
    this.blobs = new BlobIntake(settings.maxBlobBytes)
    socket.on("data", (chunk: Buffer) => this.receiveSafely(chunk))
    socket.on("drain", () => this.resume())
    socket.on("error", () => this.close())
    socket.on("close", () => {
      const partial = this.preHello?.length ?? this.decoder.buffered
      if (!this.closed && partial > 0) this.settings.log(`closed a client connection: it ended inside a frame (${partial} bytes of it received)`)
      this.close()
    })
  }

  /** True once the client presented the right token and protocol. */
  get isAuthenticated(): boolean {
    return this.authenticated
  }

  /** Tasks of this client not yet answered. */
  get pending(): number {
    return this.tasks.size
  }

  /** An elastic pool's most slots: its most nodes, each with the slots its nodes have now. */
  private maxSlots(slots: number): { maxSlots?: number } {
    const { elastic, cluster } = this.pool
    const nodes = cluster?.nodes.length ?? 0
    return elastic === undefined || nodes === 0 ? {} : { maxSlots: Math.max(slots, Math.round((elastic.max * slots) / nodes)) }
  }

  /** Tells the client the pool's live slot count (after a node joined or was lost). */
  announceSlots(): void {
    if (!this.authenticated || this.closed) return
    const slots = this.pool.totalSlots
    if (slots === this.lastSlots) return
    this.lastSlots = slots
    this.send({ type: "hello", protocol: BRIDGE_PROTOCOL, role: "server", slots, maxBlobBytes: this.settings.maxBlobBytes, ...this.maxSlots(slots) })
  }

  /** Closes the socket and cancels every task of this client still pending; idempotent. */
  close(): void {
    if (this.closed) return
    this.closed = true
    clearTimeout(this.helloTimer)
    this.outbox.close()
    this.blobs.clear()
    const pending = [...this.tasks.values()]
    this.tasks.clear()
    for (const task of pending) {
      task.done = true
      if (task.poolId >= 0) this.pool.cancel(task.poolId)
    }
    this.socket.destroy()
    this.settings.onClose(this)
  }

  private refuse(reason: string): void {
    if (this.closed) return
    this.settings.log(`refused a client connection: ${reason}`)
    this.close()
  }

  /** Whatever a client sends, a failure to handle it closes that connection, never the process. */
  private receiveSafely(chunk: Buffer): void {
    try {
      this.receive(chunk)
    } catch (error) {
      this.settings.log(`closed a client connection: handling what it sent failed: ${error instanceof Error ? error.message : String(error)}`)
      this.close()
    }
  }

  private receive(chunk: Buffer): void {
    if (this.closed) return
    if (this.preHello !== undefined) {
      const rest = this.receiveHello(chunk)
      if (rest === undefined || rest.length === 0) return
      chunk = rest
    }
    let messages: Message[]
    try {
      messages = this.decoder.push(chunk)
    } catch (error) {
      this.settings.log(`closed a client connection: unreadable frame: ${(error as Error).message}`)
      this.close()
      return
    }
    for (const message of messages) {
      if (this.closed) return
      this.handle(message)
    }
  }

  /**
   * Before authentication only one small frame is accepted: its length prefix is checked before
   * anything is buffered. Returns the bytes after the hello frame once it has been handled.
   */
  private receiveHello(chunk: Buffer): Buffer | undefined {
    const buffer = Buffer.concat([this.preHello!, chunk])
    if (buffer.length < 4) {
      this.preHello = buffer
      return undefined
    }
    const length = buffer.readUInt32BE(0)
    if (length === 0 || length > PRE_HELLO_LIMIT) {
      this.refuse(`a first frame of ${length} bytes (a hello is at most ${PRE_HELLO_LIMIT})`)
      return undefined
    }
    if (buffer.length < 4 + length) {
      this.preHello = buffer
      return undefined
    }
    this.preHello = undefined
    let hello: Message[]
    try {
      hello = new FrameDecoder({ maxFrameBytes: PRE_HELLO_LIMIT }).push(buffer.subarray(0, 4 + length))
    } catch (error) {
      this.refuse(`unreadable frame: ${(error as Error).message}`)
      return undefined
    }
    this.handle(hello[0]!)
    return this.closed ? undefined : buffer.subarray(4 + length)
  }

  private handle(message: Message): void {
    if (!this.authenticated) {
      if (message.type !== "hello") return this.refuse(`expected hello, got ${message.type}`)
      if (message.protocol !== BRIDGE_PROTOCOL)
        return this.refuse(`protocol ${message.protocol} (this bridge speaks ${BRIDGE_PROTOCOL})`)
      if (message.role !== "client") return this.refuse(`role ${message.role} (expected client)`)
      if (!tokenMatches(message.token, this.settings.token)) return this.refuse("wrong or missing token")
      clearTimeout(this.helloTimer)
      this.authenticated = true
      this.announceSlots()
      return
    }
    switch (message.type) {
      case "submit":
        return this.submit(message)
      case "blob":
        return this.receiveBlob(message)
      case "cancel": {
        const task = this.tasks.get(message.id)
        if (task !== undefined && task.poolId >= 0) this.pool.cancel(task.poolId)
        return
      }
      case "shutdown":
        return this.close()
      default:
        // heartbeats and anything else a client has no business sending are ignored
        return
    }
  }

  private submit(message: Submit): void {
    const id = message.id
    if (message.kind !== "pickle" || message.payload === undefined)
      return this.send(protocolError(id, "submit needs kind \"pickle\" and a payload"))
    if (this.tasks.has(id)) return this.send(protocolError(id, `task id ${id} is already pending`))
    const refusal = message.blobs === undefined ? undefined : this.blobs.refusalOf(message.blobs)
    if (refusal !== undefined) return this.send(blobRefusedError(id, refusal))
    const missing = message.blobs === undefined ? [] : this.pool.missingBlobs(message.blobs)
    if (missing.length > 0) return this.send(blobError(id, missing))
    const task: PendingTask = { poolId: -1, done: false }
    this.tasks.set(id, task)
    const finish = (): boolean => {
      if (task.done) return false
      task.done = true
      this.tasks.delete(id)
      return true
    }
    task.poolId = this.pool.dispatch(
      {
        kind: "pickle",
        payload: message.payload,
        ...(message.timeout === undefined ? {} : { timeout: message.timeout }),
        ...(message.blobs === undefined ? {} : { blobs: message.blobs }),
        calls: message.calls,
        call: message.call,
        callTotal: message.callTotal,
        client: this.client
      },
      {
        onLog: (node, stream, line) => {
          if (!task.done) this.send({ type: "log", id, node, stream: toStream(stream), line })
        },
        onDone: (outcome) => {
          if (!finish()) return
          this.send({
            type: "result",
            id,
            node: outcome.node,
            slot: outcome.slot,
            duration: outcome.duration,
            ...(outcome.payload === undefined ? {} : { payload: outcome.payload }),
            ...(outcome.warnings === undefined ? {} : { warnings: [...outcome.warnings] })
          })
        },
        onFailed: (error: TaskError) => {
          if (finish()) this.send(toErrorMessage(id, error))
        }
      }
    )
  }

  /** Takes a blob's chunk: a whole blob whose bytes hash to its name goes to the pool. */
  private receiveBlob(message: Blob): void {
    const step = this.blobs.take(message)
    switch (step._tag) {
      case "Complete":
        return this.pool.putBlob(step.hash, step.data)
      case "Refused":
        return this.settings.log(`a client's ${step.refusal.message}`)
      case "Broken":
        return this.dropConnection(step.reason)
      case "Pending":
        return
    }
  }

  private dropConnection(what: string): void {
    this.settings.log(`closed a client connection: it sent ${what}`)
    this.close()
  }

  private send(message: Message): void {
    if (!this.closed) this.outbox.push(message)
  }

  private write(bytes: Uint8Array): void {
    this.socket.write(bytes)
    if (!this.paused && this.socket.writableLength > WRITE_HIGH_WATER) {
      this.paused = true
      this.socket.pause()
    }
  }

  private resume(): void {
    if (this.paused && !this.closed) {
      this.paused = false
      this.socket.resume()
    }
  }
}
