// Test helpers: JSON <-> message conversion ({"$bytes": hex}), vector loading, a seeded PRNG.

import { readFileSync } from "node:fs"
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
