// Frame encoding: the top-level map is assembled by hand so that byte strings are copied exactly once,
// straight into the single output buffer; everything else goes through cbor-x.

import { cborEncoder } from "./cbor.js"
import { compressTransient } from "./compression.js"
import { DEFAULT_COMPRESS_THRESHOLD, LZ4_TAG } from "./constants.js"
import { FrameTooLarge } from "./errors.js"
import { BYTES_ARRAY_FIELDS, BYTES_FIELDS, type Message } from "./messages.js"

/** Options of {@link encodeFrame}. */
export interface EncodeOptions {
  /** Byte strings longer than this are LZ4-compressed when that makes them smaller (default 4096). */
  readonly compressThreshold?: number
}

const MAX_BODY = 0xffffffff
const INT_LIMIT = 0x100000000 // cbor-x writes integral numbers outside (-2^32, 2^32) as floats: send those as bigints

// A part of the body: bytes to copy, or a CBOR head encoded as major + 8 * argument.
type Part = Uint8Array | number

const headSize = (arg: number): number => (arg < 24 ? 1 : arg < 0x100 ? 2 : arg < 0x10000 ? 3 : arg < INT_LIMIT ? 5 : 9)

const writeHead = (out: Uint8Array, p: number, major: number, arg: number): number => {
  const m = major << 5
  if (arg < 24) {
    out[p] = m | arg
    return p + 1
  }
  if (arg < 0x100) {
    out[p] = m | 24
    out[p + 1] = arg
    return p + 2
  }
  if (arg < 0x10000) {
    out[p] = m | 25
    out[p + 1] = arg >>> 8
    out[p + 2] = arg & 0xff
    return p + 3
  }
  if (arg < INT_LIMIT) {
    out[p] = m | 26
    out[p + 1] = arg >>> 24
    out[p + 2] = (arg >>> 16) & 0xff
    out[p + 3] = (arg >>> 8) & 0xff
    out[p + 4] = arg & 0xff
    return p + 5
  }
  out[p] = m | 27
  const hi = Math.floor(arg / INT_LIMIT)
  const lo = arg >>> 0
  out[p + 1] = hi >>> 24
  out[p + 2] = (hi >>> 16) & 0xff
  out[p + 3] = (hi >>> 8) & 0xff
  out[p + 4] = hi & 0xff
  out[p + 5] = lo >>> 24
  out[p + 6] = (lo >>> 16) & 0xff
  out[p + 7] = (lo >>> 8) & 0xff
  out[p + 8] = lo & 0xff
  return p + 9
}

const head = (major: number, arg: number): number => major + 8 * arg

const partSize = (part: Part): number => (typeof part === "number" ? headSize(Math.floor(part / 8)) : part.length)

const keyCache = new Map<string, Uint8Array>()
const textEncoder = new TextEncoder()

const keyBytes = (key: string): Uint8Array => {
  let k = keyCache.get(key)
  if (k === undefined) {
    const utf8 = textEncoder.encode(key)
    k = new Uint8Array(headSize(utf8.length) + utf8.length)
    k.set(utf8, writeHead(k, 0, 3, utf8.length))
    if (BYTES_FIELDS.has(key) || BYTES_ARRAY_FIELDS.has(key)) keyCache.set(key, k)
  }
  return k
}

const TWO_64 = 2 ** 64

// integral, outside cbor-x's int range, but within CBOR's (beyond it, a float is the only encoding)
const isBigIntegral = (v: number): boolean =>
  Number.isInteger(v) && (v >= INT_LIMIT || v <= -INT_LIMIT) && v < TWO_64 && v >= -TWO_64

/** Returns `v` with every integral number cbor-x would write as a float replaced by a bigint (copying only what changes). */
const fixInts = (v: unknown): unknown => {
  if (typeof v === "number") return isBigIntegral(v) ? BigInt(v) : v
  if (typeof v !== "object" || v === null) return v
  if (Array.isArray(v)) {
    let copy: unknown[] | undefined
    for (let i = 0; i < v.length; i++) {
      const x: unknown = v[i]
      const y = fixInts(x)
      if (y !== x) (copy ??= v.slice())[i] = y
    }
    return copy ?? v
  }
  const proto: unknown = Object.getPrototypeOf(v)
  if (proto !== Object.prototype && proto !== null) return v
  let copy: Record<string, unknown> | undefined
  const o = v as Record<string, unknown>
  for (const k of Object.keys(o)) {
    const x = o[k]
    const y = fixInts(x)
    if (y !== x) (copy ??= { ...o })[k] = y
  }
  return copy ?? v
}

const pushBytes = (parts: Part[], data: Uint8Array, threshold: number): void => {
  if (data.length > threshold) {
    const packed = compressTransient(data)
    if (packed !== undefined) {
      parts.push(head(6, LZ4_TAG), head(2, packed.length), packed.slice())
      return
    }
  }
  parts.push(head(2, data.length), data)
}

/** A message laid out for writing: the cbor-x-encoded plain fields plus the byte-string parts. */
interface Plan {
  readonly count: number // entries of the top-level map
  readonly rest: Uint8Array // cbor-x's encoding of the plain fields, map head stripped
  readonly parts: Part[]
  readonly size: number // body size
}

const plan = (message: Message, threshold: number): Plan => {
  const rest: Record<string, unknown> = {}
  const parts: Part[] = []
  let binFields = 0
  const m = message as unknown as Record<string, unknown>
  for (const key of Object.keys(m)) {
    const v = m[key]
    if (v === undefined) continue
    if (BYTES_FIELDS.has(key) && v instanceof Uint8Array) {
      binFields++
      parts.push(keyBytes(key))
      pushBytes(parts, v, threshold)
    } else if (BYTES_ARRAY_FIELDS.has(key) && Array.isArray(v) && v.every((x) => x instanceof Uint8Array)) {
      binFields++
      parts.push(keyBytes(key), head(4, v.length))
      for (const x of v as Uint8Array[]) pushBytes(parts, x, threshold)
    } else {
      rest[key] = fixInts(v)
    }
  }
  const encoded = cborEncoder.encode(rest)
  // cbor-x wrote a map head for the plain fields: read its count, then drop it
  const info = encoded[0]! & 31
  const headLen = info < 24 ? 1 : info === 24 ? 2 : info === 25 ? 3 : 5
  let restCount = info
  if (info === 24) restCount = encoded[1]!
  else if (info === 25) restCount = (encoded[1]! << 8) | encoded[2]!
  else if (info === 26) restCount = ((encoded[1]! << 24) | (encoded[2]! << 16) | (encoded[3]! << 8) | encoded[4]!) >>> 0
  const count = restCount + binFields
  const restBody = encoded.subarray(headLen)
  let size = headSize(count) + restBody.length
  for (const part of parts) size += partSize(part)
  if (size > MAX_BODY) throw new FrameTooLarge({ length: size, max: MAX_BODY })
  return { count, rest: restBody, parts, size }
}

const write = (out: Uint8Array, p: number, pl: Plan): number => {
  out[p] = pl.size >>> 24
  out[p + 1] = (pl.size >>> 16) & 0xff
  out[p + 2] = (pl.size >>> 8) & 0xff
  out[p + 3] = pl.size & 0xff
  p = writeHead(out, p + 4, 5, pl.count)
  out.set(pl.rest, p)
  p += pl.rest.length
  for (const part of pl.parts) {
    if (typeof part === "number") {
      p = writeHead(out, p, part % 8, Math.floor(part / 8))
    } else {
      out.set(part, p)
      p += part.length
    }
  }
  return p
}

/** Encodes one message as a frame (4-byte big-endian length + CBOR map). */
export const encodeFrame = (message: Message, options?: EncodeOptions): Uint8Array => {
  const pl = plan(message, options?.compressThreshold ?? DEFAULT_COMPRESS_THRESHOLD)
  const out = Buffer.allocUnsafe(4 + pl.size)
  write(out, 0, pl)
  return out
}

/** Encodes several messages as consecutive frames in one buffer. */
export const encodeFrames = (messages: Iterable<Message>, options?: EncodeOptions): Uint8Array => {
  const threshold = options?.compressThreshold ?? DEFAULT_COMPRESS_THRESHOLD
  const plans: Plan[] = []
  let total = 0
  for (const message of messages) {
    const pl = plan(message, threshold)
    plans.push(pl)
    total += 4 + pl.size
  }
  const out = Buffer.allocUnsafe(total)
  let p = 0
  for (const pl of plans) p = write(out, p, pl)
  return out
}
