import { FrameBatcher, FrameDecoder, type Message } from "@skyward/codec"
import { BLOB_CHUNK_BYTES, type BlobStore } from "./blob-store.js"
import type { AgentChannel, TaskSpec } from "@skyward/contracts"
import type { NodeLink, Scheduler } from "./scheduler.js"

/** Bytes between the client and its nodes (see `ComputePoolShape.traffic`). */
export interface Traffic {
  sentBytes: number
  receivedBytes: number
}

/** What the agent said in its `hello`. */
export interface AgentHello {
  readonly pid: number
  readonly slots: number
  readonly python: string
}

/** The load of the agent's machine, as its heartbeat said it (each figure only when the agent read it). */
export interface AgentStats {
  readonly cpu?: number
  readonly memUsed?: number
  readonly memTotal?: number
}

/**
 * The Node end of one agent: decodes its frames into scheduler calls, batches outgoing frames
 * into one write per burst, and watches the agent's liveness.
 */
export class AgentLink implements NodeLink {
  private readonly decoder = new FrameDecoder()
  // Payloads are forwarded as they are: compressing them again in JavaScript costs more than it saves.
  private readonly outbox: FrameBatcher
  private scheduler: Scheduler | undefined
  private blobs: BlobStore | undefined
  /** Hashes of the blobs sent to this agent (it may have dropped some since: it then says so). */
  private readonly held = new Set<string>()
  private onBlobSent: ((hash: string, bytes: number) => void) | undefined
  private helloListener: ((hello: AgentHello) => void) | undefined
  private statsListener: ((stats: AgentStats) => void) | undefined
  private earlyLogListener: ((line: string) => void) | undefined
  private readonly closeListeners: Array<(reason: string) => void> = []
  private closed = false
  /** Milliseconds timestamp of the last bytes received. */
  lastSeen = Date.now()
  capacity = 0
  /** The agent's stderr, last lines, for error messages. */
  readonly diagnostics: string[] = []

  constructor(
    readonly index: number,
    private readonly channel: AgentChannel,
    traffic: Traffic = { sentBytes: 0, receivedBytes: 0 }
  ) {
    this.outbox = new FrameBatcher(
      (bytes) => {
        traffic.sentBytes += bytes.byteLength
        return channel.write(bytes)
      },
      { compressThreshold: Infinity }
    )
    channel.onData((chunk) => {
      traffic.receivedBytes += chunk.byteLength
      this.receive(chunk)
    })
    channel.onDiagnostic((line) => {
      this.diagnostics.push(line)
      if (this.diagnostics.length > 50) this.diagnostics.shift()
    })
    channel.onClose((reason) => this.lost(this.withLastWords(reason)))
  }

  /** Registers the consumer of the lines the agent logs before it is attached (its start-up: volumes fetched). */
  onEarlyLog(listener: (line: string) => void): void {
    this.earlyLogListener = listener
  }

  /** `reason`, plus, when the agent ended by itself (an exit code), its own last stderr line: why it stopped. */
  private withLastWords(reason: string): string {
    if (!/exited with code/.test(reason)) return reason
    const own = this.diagnostics.findLast((line) => line.startsWith("skyward_worker["))
    return own === undefined ? reason : `${reason} (it last said: ${own.replace(/^skyward_worker\[\d+\]: /, "")})`
  }

  /** Calls `listener` once the agent said hello. */
  onHello(listener: (hello: AgentHello) => void): void {
    this.helloListener = listener
  }

  /** Calls `listener` with the machine's load each time a heartbeat carries any of it. */
  onStats(listener: (stats: AgentStats) => void): void {
    this.statsListener = listener
  }

  /** Calls `listener` once when the agent is gone (listeners are called in the order they were added). */
  onClose(listener: (reason: string) => void): void {
    this.closeListeners.push(listener)
  }

  /** From now on, task messages go to `scheduler`; the blobs tasks refer to come from `blobs`. */
  attach(scheduler: Scheduler, capacity: number, blobs?: BlobStore, onBlobSent?: (hash: string, bytes: number) => void): void {
    this.scheduler = scheduler
    this.capacity = capacity
    this.blobs = blobs
    this.onBlobSent = onBlobSent
  }

  sendSubmit(id: number, spec: TaskSpec): void {
    if (spec.blobs !== undefined) for (const hash of spec.blobs) this.sendBlob(hash)
    this.send({
      type: "submit",
      id,
      kind: spec.kind,
      ...(spec.payload === undefined ? {} : { payload: spec.payload }),
      ...(spec.fn === undefined ? {} : { fn: spec.fn }),
      ...(spec.args === undefined ? {} : { args: [...spec.args] }),
      ...(spec.blobs === undefined ? {} : { blobs: [...spec.blobs] })
    } as Message)
  }

  /** True when every blob of `hashes` was sent to this agent already. */
  holds(hashes: ReadonlyArray<string>): boolean {
    return hashes.every((hash) => this.held.has(hash))
  }

  /** The agent dropped blobs it was sent: send them again when a task needs them. */
  forgetBlobs(): void {
    this.held.clear()
  }

  /** Sends the blob `hash` once, in chunks, ahead of the first task that needs it. */
  private sendBlob(hash: string): void {
    if (this.held.has(hash)) return
    const data = this.blobs?.get(hash)
    if (data === undefined) return // the agent answers the task with an error of kind "blob"
    const total = data.byteLength
    for (let offset = 0; offset < total || offset === 0; offset += BLOB_CHUNK_BYTES)
      this.send({ type: "blob", hash, data: data.subarray(offset, offset + BLOB_CHUNK_BYTES), offset, total })
    this.held.add(hash)
    this.onBlobSent?.(hash, total)
  }

  sendCancel(id: number): void {
    this.send({ type: "cancel", id } as Message)
  }

  sendWithdraw(id: number): void {
    this.send({ type: "cancel", id, only: "queued" } as Message)
  }

  /** Asks the agent to stop (its process is also stopped by the transport's scope). */
  shutdown(reason: string): void {
    this.send({ type: "shutdown", reason } as Message)
  }

  /** Declares the agent gone (silence, exit or protocol error); idempotent. */
  lost(reason: string): void {
    if (this.closed) return
    this.closed = true
    this.outbox.close()
    for (const listener of this.closeListeners.splice(0)) listener(reason)
  }

  get isClosed(): boolean {
    return this.closed
  }

  private send(message: Message): void {
    if (!this.closed) this.outbox.push(message)
  }

  private receive(chunk: Uint8Array): void {
    this.lastSeen = Date.now()
    let messages: Message[]
    try {
      messages = this.decoder.push(chunk)
    } catch (error) {
      this.lost(`the agent sent an unreadable frame: ${(error as Error).message}`)
      return
    }
    for (const message of messages) this.handle(message)
  }

  private handle(message: Message): void {
    const scheduler = this.scheduler
    switch (message.type) {
      case "hello":
        this.helloListener?.({ pid: message.pid ?? 0, slots: message.slots ?? 1, python: message.python ?? "" })
        return
      case "started":
        scheduler?.started(this.index, message.id, message.slot)
        return
      case "result":
        scheduler?.completed(this.index, message.id, {
          node: this.index,
          slot: message.slot ?? 0,
          duration: message.duration ?? 0,
          ...(message.payload === undefined ? {} : { payload: message.payload }),
          ...("value" in message ? { value: message.value } : {}),
          ...(message.warnings === undefined ? {} : { warnings: message.warnings })
        })
        return
      case "error":
        scheduler?.failed(this.index, message.id, message)
        return
      case "log":
        if (scheduler !== undefined) scheduler.log(this.index, message.id, message.stream, message.line)
        else this.earlyLogListener?.(message.line) // before its hello: the agent's start-up (its volumes)
        return
      case "heartbeat":
        // refreshed lastSeen already; the machine's load, when the agent read it, goes to the listener
        if (this.statsListener !== undefined && !this.closed) {
          const { cpu, memUsed, memTotal } = message
          if (cpu !== undefined || memUsed !== undefined || memTotal !== undefined)
            this.statsListener({
              ...(cpu === undefined ? {} : { cpu }),
              ...(memUsed === undefined ? {} : { memUsed }),
              ...(memTotal === undefined ? {} : { memTotal })
            })
        }
        return
      default:
        // other types are not sent by agents
        return
    }
  }
}
