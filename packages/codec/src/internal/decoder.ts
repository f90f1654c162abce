// Incremental frame decoder.

import { cborDecoder, checkStructure } from "./cbor.js"
import { DEFAULT_MAX_FRAME_BYTES } from "./constants.js"
import { FrameTooLarge, InvalidCbor, toWireError, type WireError } from "./errors.js"
import type { Message } from "./messages.js"
import { validateMessage } from "./validate.js"

/** Options of {@link FrameDecoder}. */
export interface DecoderOptions {
  /** Largest accepted frame body, and most decompressed bytes per message (default 256 MiB). */
  readonly maxFrameBytes?: number
}

/** Decodes one frame body (owned by the caller, never mutated later) into a message. */
export const decodeBody = (body: Uint8Array, maxBytes: number): Message => {
  checkStructure(body)
  let value: unknown
  try {
    value = cborDecoder.decode(body)
  } catch (e) {
    throw new InvalidCbor({ reason: e instanceof Error ? e.message : String(e) })
  }
  return validateMessage(value, maxBytes)
}

const EMPTY = new Uint8Array(0)

const checkMax = (max: number): number => {
  if (!Number.isInteger(max) || max < 1 || max > 0xffffffff) {
    throw new RangeError(`maxFrameBytes must be an integer from 1 to 2^32-1, got ${max}`)
  }
  return max
}

/**
 * Splits a byte stream into frames and decodes them. Chunks may be cut anywhere; they are kept in a list
 * (not re-concatenated) until a frame is complete, and must not be mutated after `push`.
 */
export class FrameDecoder {
  readonly #max: number
  #chunks: Uint8Array[] = []
  #first = 0 // index of the first live chunk
  #offset = 0 // read position in that chunk
  #buffered = 0
  #need = -1 // body length of the frame being received, -1 while waiting for its length prefix
  #error: WireError | undefined

  constructor(options?: DecoderOptions) {
    this.#max = checkMax(options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
  }

  /** Bytes received but not yet decoded (including a partial length prefix). */
  get buffered(): number {
    return this.#buffered + (this.#need >= 0 ? 4 : 0)
  }

  /** Feeds bytes; returns the messages completed by them. Throws a WireError, after which the decoder is poisoned. */
  push(chunk: Uint8Array): Message[] {
    if (this.#error !== undefined) throw this.#error
    try {
      return this.#push(chunk)
    } catch (e) {
      const error = toWireError(e)
      this.#error = error
      this.#chunks = []
      this.#first = 0
      this.#offset = 0
      this.#buffered = 0
      throw error
    }
  }

  #push(chunk: Uint8Array): Message[] {
    if (chunk.length > 0) {
      this.#chunks.push(chunk)
      this.#buffered += chunk.length
    }
    const out: Message[] = []
    for (;;) {
      if (this.#need < 0) {
        if (this.#buffered < 4) break
        const n = this.#readLength()
        if (n > this.#max) throw new FrameTooLarge({ length: n, max: this.#max })
        if (n === 0) throw new InvalidCbor({ reason: "empty frame (length 0)" })
        this.#need = n
      }
      if (this.#buffered < this.#need) break
      const body = this.#take(this.#need)
      this.#need = -1
      out.push(decodeBody(body, this.#max))
    }
    return out
  }

  #readLength(): number {
    const c = this.#chunks[this.#first]!
    const o = this.#offset
    if (c.length - o >= 4) {
      const n = ((c[o]! << 24) | (c[o + 1]! << 16) | (c[o + 2]! << 8) | c[o + 3]!) >>> 0
      this.#advance(4)
      return n
    }
    const b = this.#take(4)
    return ((b[0]! << 24) | (b[1]! << 16) | (b[2]! << 8) | b[3]!) >>> 0
  }

  /** Copies the next `n` buffered bytes into a new buffer and consumes them. */
  #take(n: number): Uint8Array {
    const out = Buffer.allocUnsafe(n)
    let filled = 0
    while (filled < n) {
      const c = this.#chunks[this.#first]!
      const k = Math.min(n - filled, c.length - this.#offset)
      out.set(c.subarray(this.#offset, this.#offset + k), filled)
      filled += k
      this.#advance(k)
    }
    return out
  }

  #advance(k: number): void {
    this.#buffered -= k
    this.#offset += k
    const c = this.#chunks[this.#first]!
    if (this.#offset === c.length) {
      this.#offset = 0
      this.#chunks[this.#first++] = EMPTY // drop the reference now
      if (this.#first === this.#chunks.length) {
        this.#chunks = []
        this.#first = 0
      } else if (this.#first >= 1024 && this.#first * 2 >= this.#chunks.length) {
        this.#chunks = this.#chunks.slice(this.#first)
        this.#first = 0
      }
    }
  }
}
