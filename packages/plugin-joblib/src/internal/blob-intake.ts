import { createHash, type Hash } from "node:crypto"
import type { Blob } from "@skyward/codec"
import { formatBytes } from "@skyward/contracts"

/** A blob's name: a SHA-256 in hex. */
const BLOB_HASH = /^[0-9a-f]{64}$/
/** Refusals a connection remembers: a client that keeps sending bad blobs cannot grow the list. */
const MAX_REFUSALS = 256

/** The `excType` a task gets when a blob it names was refused: over the limit (or not holdable), or bytes that do not hash to its name. */
export type BlobRefusalType = "skyward.BlobTooLarge" | "skyward.BlobMismatch"

/** Why a blob was refused, worded for the client whose task names it. */
export interface BlobRefusal {
  readonly excType: BlobRefusalType
  readonly message: string
}

/** What became of one `blob` message. */
export type BlobStep =
  /** More chunks are to come (or the rest of a refused blob is being skipped). */
  | { readonly _tag: "Pending" }
  /** The blob is whole and its bytes hash to its name. */
  | { readonly _tag: "Complete"; readonly hash: string; readonly data: Uint8Array }
  /** The blob is refused; tasks that name it are told why. */
  | { readonly _tag: "Refused"; readonly hash: string; readonly refusal: BlobRefusal }
  /** The client broke the blob protocol: its connection cannot be trusted any more. */
  | { readonly _tag: "Broken"; readonly reason: string }

/** The blob whose chunks are arriving. */
interface Arriving {
  readonly hash: string
  readonly total: number
  received: number
  /** Its bytes and their hash so far; undefined while the rest of a refused blob is skipped. */
  readonly kept: { readonly data: Uint8Array; readonly digest: Hash } | undefined
}

const PENDING: BlobStep = { _tag: "Pending" }
const broken = (reason: string): BlobStep => ({ _tag: "Broken", reason })
const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")

const tooLarge = (hash: string, total: number, max: number): BlobRefusal => ({
  excType: "skyward.BlobTooLarge",
  message: `blob ${hash} of ${formatBytes(total)} is over the pool's argument limit of ${formatBytes(max)} (pool option argumentLimit, skyward run --argument-limit): refused`
})

const notHoldable = (hash: string, total: number, error: unknown): BlobRefusal => ({
  excType: "skyward.BlobTooLarge",
  message: `blob ${hash} of ${formatBytes(total)} could not be held in memory here (${error instanceof Error ? error.message : String(error)}): refused`
})

const mismatch = (hash: string, total: number, actual: string): BlobRefusal => ({
  excType: "skyward.BlobMismatch",
  message: `blob ${hash} (${formatBytes(total)}) arrived with other content (SHA-256 ${actual}): refused. Its buffer changed after it was hashed, or the bytes were damaged on the way`
})

/**
 * One connection's incoming blobs: chunks in order, one blob at a time, as the client sends them.
 * A blob over `maxBytes` is refused from its first chunk and its other chunks are skipped, never
 * held; the bytes of the others are hashed as they arrive, and a blob whose bytes do not hash to
 * its name is refused. Refusals are remembered until the same name arrives whole and right.
 */
export class BlobIntake {
  private arriving: Arriving | undefined
  private readonly refusals = new Map<string, BlobRefusal>()

  constructor(private readonly maxBytes: number) {}

  /** Takes one `blob` message. */
  take(message: Blob): BlobStep {
    const { hash, data } = message
    const offset = message.offset ?? 0
    const total = message.total ?? data.byteLength
    if (!BLOB_HASH.test(hash)) return broken(`a blob named ${JSON.stringify(hash.slice(0, 80))} (expected a SHA-256 in hex)`)
    if (offset + data.byteLength > total) return broken(`a chunk of blob ${hash} at ${offset}+${data.byteLength} outside its ${total} bytes`)
    if (offset === 0) return this.start(hash, data, total)
    const arriving = this.arriving
    if (arriving === undefined || arriving.hash !== hash || arriving.total !== total || arriving.received !== offset)
      return broken(`a chunk of blob ${hash} at ${offset} that does not follow ${arriving === undefined ? "a first chunk" : `blob ${arriving.hash} at ${arriving.received}`} (one blob at a time, in order)`)
    return this.append(arriving, data)
  }

  /** Why the first refused blob of `hashes` was refused, if one was. */
  refusalOf(hashes: ReadonlyArray<string>): BlobRefusal | undefined {
    for (const hash of hashes) {
      const refusal = this.refusals.get(hash)
      if (refusal !== undefined) return refusal
    }
    return undefined
  }

  /** Drops a blob still arriving (the connection closed). */
  clear(): void {
    this.arriving = undefined
  }

  /** The first chunk of a blob (one still arriving is dropped: a task that names it finds it missing). */
  private start(hash: string, data: Uint8Array, total: number): BlobStep {
    this.arriving = undefined
    if (total > this.maxBytes) return this.skip(hash, data, total, tooLarge(hash, total, this.maxBytes))
    // a blob in one frame is not copied
    if (data.byteLength === total) return this.finish(hash, data, sha256(data))
    let whole: Uint8Array
    try {
      whole = new Uint8Array(total)
    } catch (error) {
      return this.skip(hash, data, total, notHoldable(hash, total, error))
    }
    return this.append({ hash, total, received: 0, kept: { data: whole, digest: createHash("sha256") } }, data)
  }

  private append(arriving: Arriving, chunk: Uint8Array): BlobStep {
    const { kept } = arriving
    if (kept !== undefined) {
      kept.data.set(chunk, arriving.received)
      kept.digest.update(chunk)
    }
    arriving.received += chunk.byteLength
    this.arriving = arriving.received < arriving.total ? arriving : undefined
    if (this.arriving !== undefined || kept === undefined) return PENDING
    return this.finish(arriving.hash, kept.data, kept.digest.digest("hex"))
  }

  /** Refuses a blob at its first chunk; its other chunks are counted, not kept. */
  private skip(hash: string, first: Uint8Array, total: number, refusal: BlobRefusal): BlobStep {
    this.refuse(hash, refusal)
    this.append({ hash, total, received: 0, kept: undefined }, first)
    return { _tag: "Refused", hash, refusal }
  }

  private finish(hash: string, data: Uint8Array, actual: string): BlobStep {
    if (actual !== hash) {
      const refusal = mismatch(hash, data.byteLength, actual)
      this.refuse(hash, refusal)
      return { _tag: "Refused", hash, refusal }
    }
    this.refusals.delete(hash)
    return { _tag: "Complete", hash, data }
  }

  private refuse(hash: string, refusal: BlobRefusal): void {
    this.refusals.delete(hash)
    this.refusals.set(hash, refusal)
    // Map order is insertion order: the oldest refusal goes first
    if (this.refusals.size > MAX_REFUSALS) this.refusals.delete(this.refusals.keys().next().value!)
  }
}
