// cbor-x configured for plain, interoperable CBOR, plus a structural pre-check of frame bodies.

import { Decoder, Encoder, type Options } from "cbor-x"
import { InvalidCbor } from "./errors.js"

/** Options cbor-x reads but does not declare. */
interface ExtraOptions extends Options {
  readonly int64AsNumber?: boolean
  readonly useTag259ForMaps?: boolean
}

const options: ExtraOptions = {
  useRecords: false, // no record extension: plain maps
  mapsAsObjects: true, // maps decode as plain objects
  structuredClone: false,
  pack: false,
  bundleStrings: false,
  sequential: false,
  tagUint8Array: false, // Uint8Array is a plain byte string, not tag 64
  useTag259ForMaps: false, // JS Maps are plain CBOR maps
  variableMapSize: true, // smallest map headers, as every other encoder writes them
  copyBuffers: false, // byte strings are views of the frame body (which the decoder owns)
  int64AsNumber: true // 8-byte integers decode as numbers, not bigints
}

/** The cbor-x encoder every frame goes through. */
export const cborEncoder = new Encoder(options)

/** The cbor-x decoder every frame goes through. */
export const cborDecoder = new Decoder(options)

/** Nesting deeper than this is refused (keeps both cbor-x and cbor2 away from their recursion limits). */
export const MAX_DEPTH = 256

const INDEFINITE = -1

const fail = (reason: string): never => {
  throw new InvalidCbor({ reason })
}

/**
 * Checks, without building any value, that `b` holds exactly one well-formed CBOR data item which is a map
 * with definite-length text keys, nested at most MAX_DEPTH deep. Iterative, linear in the item count.
 */
export const checkStructure = (b: Uint8Array): void => {
  const n = b.length
  let p = 0
  // stack of items still to read per open container: a count, or INDEFINITE (until a break);
  // byte/text chunks of an indefinite string are tracked by `strMajor`
  const stack: number[] = []
  const strMajors: number[] = []
  let pending = 1
  let strMajor = -1
  let topItems = 0 // items read directly in the top-level map: keys are the even ones
  for (;;) {
    if (pending === 0 || (pending === INDEFINITE && p < n && b[p] === 0xff)) {
      if (pending === INDEFINITE) p++
      if (stack.length === 0) break
      pending = stack.pop()!
      strMajor = strMajors.pop()!
      continue
    }
    if (p >= n) fail("truncated CBOR item")
    const ib = b[p++]!
    const major = ib >>> 5
    const info = ib & 31
    if (stack.length === 1 && topItems++ % 2 === 0 && (major !== 3 || info === 31)) {
      fail("message map keys must be text strings")
    }
    if (pending !== INDEFINITE) pending--
    let arg = info
    if (info >= 24) {
      if (info === 31) {
        if (major === 0 || major === 1 || major === 6 || major === 7) fail("unexpected break or indefinite marker")
        if (strMajor >= 0) fail("nested indefinite-length string")
        stack.push(pending)
        strMajors.push(strMajor)
        if (stack.length > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`)
        pending = INDEFINITE
        strMajor = major === 2 || major === 3 ? major : -1
        if (stack.length === 1 && major !== 5) fail("a frame must hold a CBOR map")
        continue
      }
      if (info > 27) fail("reserved additional information value")
      const size = 1 << (info - 24)
      if (n - p < size) fail("truncated CBOR item head")
      if (size === 1) arg = b[p]!
      else if (size === 2) arg = (b[p]! << 8) | b[p + 1]!
      else if (size === 4) arg = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0
      else {
        const hi = ((b[p]! << 24) | (b[p + 1]! << 16) | (b[p + 2]! << 8) | b[p + 3]!) >>> 0
        const lo = ((b[p + 4]! << 24) | (b[p + 5]! << 16) | (b[p + 6]! << 8) | b[p + 7]!) >>> 0
        arg = hi * 0x100000000 + lo // may be inexact above 2^53: only compared against lengths
      }
      p += size
    }
    if (strMajor >= 0 && major !== strMajor) fail("indefinite-length string chunk of the wrong type")
    if (stack.length === 0 && major !== 5) fail("a frame must hold a CBOR map")
    switch (major) {
      case 2:
      case 3:
        if (arg > n - p) fail("truncated string")
        p += arg
        break
      case 4:
      case 5: {
        const items = major === 5 ? arg * 2 : arg
        if (items > n - p) fail("truncated container")
        stack.push(pending)
        strMajors.push(strMajor)
        if (stack.length > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`)
        pending = items
        strMajor = -1
        break
      }
      case 6:
        // the tagged item follows as part of this one
        stack.push(pending)
        strMajors.push(strMajor)
        if (stack.length > MAX_DEPTH) fail(`nesting deeper than ${MAX_DEPTH}`)
        pending = 1
        break
      case 7:
        if (info === 24 && arg < 32) fail("invalid simple value encoding")
        break
      default:
        break
    }
  }
  if (p !== n) fail(`${n - p} trailing bytes after the CBOR item`)
}
