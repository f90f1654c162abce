#!/usr/bin/env node
// Writes vectors/ts/<name>.{hex,json} from vectors/cases.json with the TS encoder (build first: dist/).
// Run once, commit the output: node scripts/gen-vectors.mjs
import { mkdirSync, readFileSync, writeFileSync } from "node:fs"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { encodeFrame } from "../dist/index.js"

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "vectors")
const { cases } = JSON.parse(readFileSync(join(root, "cases.json"), "utf8"))

const hex = (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString("hex")

const xorshift32 = (seed, length) => {
  const out = new Uint8Array(length)
  let x = seed >>> 0 || 1
  for (let i = 0; i < length; i++) {
    x ^= x << 13
    x >>>= 0
    x ^= x >>> 17
    x ^= x << 5
    x >>>= 0
    out[i] = x & 0xff
  }
  return out
}

// case spec -> message value
const expand = (v) => {
  if (Array.isArray(v)) return v.map(expand)
  if (v !== null && typeof v === "object") {
    if ("$bytes" in v) return new Uint8Array(Buffer.from(v.$bytes, "hex"))
    if ("$repeat" in v) {
      const pattern = Buffer.from(v.$repeat, "hex")
      const out = new Uint8Array(v.length)
      for (let i = 0; i < v.length; i++) out[i] = pattern[i % pattern.length]
      return out
    }
    if ("$random" in v) return xorshift32(v.$random, v.length)
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, expand(x)]))
  }
  return v
}

// message value -> JSON with {"$bytes": hex}
const toJson = (v) => {
  if (v instanceof Uint8Array) return { $bytes: hex(v) }
  if (Array.isArray(v)) return v.map(toJson)
  if (v !== null && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, toJson(x)]))
  return v
}

const outDir = join(root, "ts")
mkdirSync(outDir, { recursive: true })
for (const c of cases) {
  const message = expand(c.message)
  writeFileSync(join(outDir, `${c.name}.hex`), hex(encodeFrame(message)) + "\n")
  writeFileSync(join(outDir, `${c.name}.json`), JSON.stringify(toJson(message), null, 1) + "\n")
}
console.log(`wrote ${cases.length} TS vectors to ${outDir}`)
