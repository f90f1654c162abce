// LZ4 frame format: compression through lz4js, decompression with our own bounds-checked decoder
// (lz4js's decoder trusts its input: it can read past the end, write past the output and loop for long).

import lz4js from "lz4js"
import { InvalidCbor } from "./errors.js"
import { xxh32 } from "./xxh32.js"

const MAGIC = 0x184d2204
const MIN_MATCH = 4

const u32le = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

const fail = (reason: string): never => {
  throw new InvalidCbor({ reason: `LZ4: ${reason}` })
}

// lz4js needs an output buffer of compressBound(n); keep one around for the common (small) sizes.
const SCRATCH_KEEP = 8 * 1024 * 1024
let scratch = new Uint8Array(0)

/**
 * Compresses `data` into an LZ4 frame. Returns undefined when the frame would not be smaller.
 * The result is a view into a scratch buffer: copy it before the next call.
 */
export const compressTransient = (data: Uint8Array): Uint8Array | undefined => {
  const bound = lz4js.compressBound(data.length)
  let dst = scratch
  if (dst.length < bound) {
    dst = new Uint8Array(bound)
    if (bound <= SCRATCH_KEEP) scratch = dst
  }
  const n = lz4js.compressFrame(data, dst)
  return n < data.length ? dst.subarray(0, n) : undefined
}

/** Compresses `data` into a new LZ4 frame (always, even when larger). */
export const compress = (data: Uint8Array): Uint8Array => lz4js.compress(data)

/** Decodes one LZ4 block `src[s, sEnd)` into `dst` from `d`; matches may reach back to `window`. Returns the new `d`. */
const decodeBlock = (
  src: Uint8Array,
  s: number,
  sEnd: number,
  dst: Uint8Array,
  d: number,
  window: number,
  overflow: string
): number => {
  const cap = dst.length
  for (;;) {
    if (s >= sEnd) fail("truncated block")
    const token = src[s++]!
    let lit = token >>> 4
    if (lit === 15) {
      let b: number
      do {
        if (s >= sEnd) fail("truncated literal length")
        b = src[s++]!
        lit += b
      } while (b === 255)
    }
    if (lit > sEnd - s) fail("literals run past the block")
    if (lit > cap - d) fail(overflow)
    if (lit < 32) {
      for (let k = 0; k < lit; k++) dst[d++] = src[s++]!
    } else {
      dst.set(src.subarray(s, s + lit), d)
      s += lit
      d += lit
    }
    if (s === sEnd) return d // the last sequence has literals only
    if (sEnd - s < 2) fail("truncated match offset")
    const off = src[s]! | (src[s + 1]! << 8)
    s += 2
    if (off === 0 || off > d - window) fail("match offset out of range")
    let len = token & 15
    if (len === 15) {
      let b: number
      do {
        if (s >= sEnd) fail("truncated match length")
        b = src[s++]!
        len += b
      } while (b === 255)
    }
    len += MIN_MATCH
    if (len > cap - d) fail(overflow)
    let m = d - off
    if (off >= len && len > 32) {
      dst.copyWithin(d, m, m + len)
      d += len
    } else {
      const end = d + len
      while (d < end) dst[d++] = dst[m++]!
    }
  }
}

/**
 * Decompresses one LZ4 frame (exactly: trailing bytes are an error) whose output may not exceed `budget` bytes.
 * Throws InvalidCbor on any corruption. Never allocates more than `budget` nor much more than the input could expand to.
 */
export const decompress = (src: Uint8Array, budget: number): Uint8Array => {
  const len = src.length
  if (len < 7) fail("truncated frame header")
  if (u32le(src, 0) !== MAGIC) fail("bad magic number")
  const flg = src[4]!
  const bd = src[5]!
  if (flg >>> 6 !== 1) fail("unsupported frame version")
  if (flg & 0x02) fail("reserved flag bit set")
  if (flg & 0x01) fail("dictionaries are not supported")
  if (bd & 0x8f) fail("reserved block descriptor bits set")
  const bsid = (bd >>> 4) & 7
  if (bsid < 4) fail("invalid block size id")
  const blockMax = 1 << (8 + 2 * bsid)
  const independent = (flg & 0x20) !== 0
  const blockSum = (flg & 0x10) !== 0
  const hasSize = (flg & 0x08) !== 0
  const contentSum = (flg & 0x04) !== 0
  let p = 6
  let contentSize = -1
  if (hasSize) {
    if (len < p + 9) fail("truncated frame header")
    const lo = u32le(src, p)
    const hi = u32le(src, p + 4)
    if (hi > 0x1fffff) fail("content size too large")
    contentSize = hi * 0x100000000 + lo
    p += 8
  }
  if (((xxh32(src, 4, p) >>> 8) & 0xff) !== src[p]) fail("header checksum mismatch")
  p++
  const first = p

  // Pass 1: check the block structure and bound the output.
  let bound = 0
  for (;;) {
    if (len - p < 4) fail("truncated block header")
    const word = u32le(src, p)
    p += 4
    if (word === 0) break
    const n = word & 0x7fffffff
    if (n > blockMax) fail("block larger than the frame's block size")
    if (len - p < n + (blockSum ? 4 : 0)) fail("truncated block")
    bound += word & 0x80000000 ? n : Math.min(blockMax, n * 255)
    p += n + (blockSum ? 4 : 0)
  }
  if (contentSum) {
    if (len - p < 4) fail("truncated content checksum")
    p += 4
  }
  if (p !== len) fail("trailing bytes after the frame")
  if (contentSize > budget) fail(`decompressed size ${contentSize} exceeds the limit of ${budget} bytes`)
  if (contentSize > bound) fail("content size larger than the blocks can hold")
  let capacity = contentSize >= 0 ? contentSize : bound
  let overflow = "output exceeds its bound"
  if (capacity > budget) {
    capacity = budget + 1 // the extra byte lets us tell "too large" from "fits exactly"
    overflow = `decompressed size exceeds the limit of ${budget} bytes`
  }

  // Pass 2: decode.
  const dst = new Uint8Array(capacity)
  let d = 0
  p = first
  for (;;) {
    const word = u32le(src, p)
    p += 4
    if (word === 0) break
    const n = word & 0x7fffffff
    if (blockSum && xxh32(src, p, p + n) !== u32le(src, p + n)) fail("block checksum mismatch")
    if (word & 0x80000000) {
      if (n > capacity - d) fail(overflow)
      dst.set(src.subarray(p, p + n), d)
      d += n
    } else {
      d = decodeBlock(src, p, p + n, dst, d, independent ? d : 0, overflow)
    }
    if (d > budget) fail(`decompressed size exceeds the limit of ${budget} bytes`)
    p += n + (blockSum ? 4 : 0)
  }
  if (contentSize >= 0 && d !== contentSize) fail("content size mismatch")
  if (contentSum && xxh32(dst, 0, d) !== u32le(src, p)) fail("content checksum mismatch")
  return d === capacity ? dst : dst.slice(0, d)
}
