// Test helpers: JSON <-> message conversion ({"$bytes": hex}), vector loading, a seeded PRNG.

import { readFileSync } from "node:fs"
import { Encoder } from "cbor-x"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"

export const VECTORS = join(dirname(fileURLToPath(import.meta.url)), "..", "vectors")

export const hex = (b: Uint8Array): string => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")
export const unhex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s.trim(), "hex"))

/** A message (or any value) as JSON, byte strings as {"$bytes": hex}. */
export const toJson = (v: unknown): unknown => {
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (Array.isArray(v)) return v.map(toJson)
  if (v !== null && typeof v === "object") {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  }
  return v
}

/** The inverse of toJson. */
export const fromJson = (v: unknown): unknown => {
  if (Array.isArray(v)) return v.map(fromJson)
  if (v !== null && typeof v === "object") {
    const o = v as Record<string, unknown>
    if (typeof o["$bytes"] === "string" && Object.keys(o).length === 1) return unhex(o["$bytes"])
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, fromJson(x)]))
  }
  return v
}

export interface VectorCase {
  readonly name: string
  readonly compressed: boolean
}

export const CASES: readonly VectorCase[] = (
  JSON.parse(readFileSync(join(VECTORS, "cases.json"), "utf8")) as { cases: VectorCase[] }
).cases

export const SIDES = ["ts", "py"] as const

export const loadVector = (side: string, name: string): { frame: Uint8Array; json: unknown } => ({
  frame: unhex(readFileSync(join(VECTORS, side, `${name}.hex`), "utf8")),
  json: JSON.parse(readFileSync(join(VECTORS, side, `${name}.json`), "utf8")) as unknown
})

/** mulberry32: a tiny seeded PRNG returning floats in [0, 1). */
export const mulberry32 = (seed: number): (() => number) => {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Splits `b` into chunks of random sizes from 1 to `max`. */
export const chunked = (b: Uint8Array, rand: () => number, max: number): Uint8Array[] => {
  const out: Uint8Array[] = []
  for (let i = 0; i < b.length; ) {
    const n = 1 + Math.floor(rand() * max)
    out.push(b.subarray(i, i + n))
    i += n
  }
  return out
}

/** CBOR as any encoder would write it, with none of the codec's own rules (for frames it must refuse). */
export const rawCbor = new Encoder({
  useRecords: false,
  mapsAsObjects: true,
  tagUint8Array: false,
  variableMapSize: true,
  useTag259ForMaps: false
} as ConstructorParameters<typeof Encoder>[0])

/** Frames arbitrary bytes: a u32 big-endian length, then the bytes. */
export const frameOf = (body: Uint8Array): Uint8Array => {
  const out = new Uint8Array(4 + body.length)
  new DataView(out.buffer).setUint32(0, body.length)
  out.set(body, 4)
  return out
}

/**
 * One fuzz input from a valid frame: 1 to 4 rounds of bit flips, random bytes, truncation, a
 * corrupt length prefix, splices with and copies of `corpus` frames, inserted, deleted and
 * duplicated ranges, and interesting CBOR head bytes.
 */
export const mutate = (rand: () => number, input: Uint8Array, corpus: ReadonlyArray<Uint8Array>): Uint8Array => {
  const int = (n: number) => Math.floor(rand() * n)
  let b = input.slice()
  const rounds = 1 + int(4)
  for (let r = 0; r < rounds; r++) {
    switch (int(10)) {
      case 0: // bit flips
        for (let k = 1 + int(8); k > 0 && b.length > 0; k--) b[int(b.length)]! ^= 1 << int(8)
        break
      case 1: // random bytes
        for (let k = 1 + int(4); k > 0 && b.length > 0; k--) b[int(b.length)] = int(256)
        break
      case 2: // truncate
        b = b.subarray(0, int(b.length + 1))
        break
      case 3: // length prefix corruption
        if (b.length >= 4) {
          const view = new DataView(b.buffer, b.byteOffset, b.byteLength)
          const n = view.getUint32(0)
          const choices = [int(2 ** 32), n + int(17) - 8, n * 2, 0, 0xffffffff, int(64), 2 ** 28 + int(4)]
          view.setUint32(0, choices[int(choices.length)]! >>> 0)
        }
        break
      case 4: {
        // splice with another valid frame
        const other = corpus[int(corpus.length)]!
        const cut = int(b.length + 1)
        const from = int(other.length + 1)
        b = Buffer.concat([b.subarray(0, cut), other.subarray(from)])
        break
      }
      case 5: {
        // insert random bytes
        const at = int(b.length + 1)
        const extra = new Uint8Array(1 + int(8)).map(() => int(256))
        b = Buffer.concat([b.subarray(0, at), extra, b.subarray(at)])
        break
      }
      case 6: {
        // delete a range
        const at = int(b.length + 1)
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + 1 + int(16))])
        break
      }
      case 7: {
        // duplicate a range
        const at = int(b.length + 1)
        const len = int(32)
        b = Buffer.concat([b.subarray(0, at + len), b.subarray(at, at + len), b.subarray(at + len)])
        break
      }
      case 8: // append a second valid frame
        b = Buffer.concat([b, corpus[int(corpus.length)]!])
        break
      default: {
        // a byte near a CBOR head set to an interesting value
        const interesting = [0x00, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1f, 0x5f, 0x7f, 0x9f, 0xbf, 0xc2, 0xd8, 0xda, 0xf7, 0xfb, 0xff]
        if (b.length > 0) b[int(b.length)] = interesting[int(interesting.length)]!
        break
      }
    }
  }
  return b
}

