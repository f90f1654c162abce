// Seeded fuzzing of the decoder: mutated and random frames, pushed in random chunk sizes. The only thing
// a push may throw is a WireError, a poisoned decoder rethrows it, and every push returns promptly.

import { describe, expect, it } from "vitest"
import { encodeFrame, FrameDecoder, isWireError, type Message } from "../src/index.js"
import { CASES, chunked, frameOf, loadVector, mulberry32, mutate, rawCbor, SIDES } from "./helpers.js"

const ITERATIONS = Number(process.env["FUZZ_N"] ?? 12_000) // FUZZ_N, FUZZ_SEED: for longer local runs
const MAX_PUSH_MS = 2_000


const corpus: Uint8Array[] = [
  ...SIDES.flatMap((side) => CASES.map((c) => loadVector(side, c.name).frame)).filter((f) => f.length < 50_000),
  encodeFrame({ type: "result", id: 1, payload: new Uint8Array(9000).fill(9), warnings: [new Uint8Array(5000)] }),
  encodeFrame({ type: "submit", id: 2, kind: "call", args: [[[[1]]], { a: [null, true] }, "x"] })
]

type Rand = () => number

const randomValue = (rand: Rand, depth: number): unknown => {
  const int = (n: number) => Math.floor(rand() * n)
  switch (int(depth > 3 ? 7 : 9)) {
    case 0:
      return int(2 ** 31) - 2 ** 30
    case 1:
      return [rand() * 1e9, -0, 1.5, 2 ** 53, -1, Infinity, NaN][int(7)]
    case 2:
      return ["", "hello", "agent", "pickle", "stdout", "\u00e9\u{1f680}"][int(6)]
    case 3:
      return [null, undefined, true, false][int(4)]
    case 4:
      return new Uint8Array(int(40)).map(() => int(256))
    case 5:
      return BigInt(int(1000)) * 2n ** 60n
    case 6:
      return new Date(int(1e12))
    case 7:
      return Array.from({ length: int(5) }, () => randomValue(rand, depth + 1))
    default:
      return Object.fromEntries(Array.from({ length: int(5) }, (_, i) => [`k${i}`, randomValue(rand, depth + 1)]))
  }
}

const TYPES = ["hello", "submit", "started", "result", "error", "cancel", "heartbeat", "log", "blob", "shutdown", "x"]
const FIELDS = ["id", "kind", "payload", "protocol", "role", "slot", "seq", "stream", "line", "hash", "data", "args",
  "value", "warnings", "blobs", "excType", "message", "traceback", "timeout", "time", "reason", "node"]

/** A CBOR map shaped like a message, with random field values (often invalid). */
const randomMessageFrame = (rand: Rand): Uint8Array => {
  const int = (n: number) => Math.floor(rand() * n)
  const o: Record<string, unknown> = { type: TYPES[int(TYPES.length)] }
  for (let k = int(7); k > 0; k--) o[FIELDS[int(FIELDS.length)]!] = randomValue(rand, 1)
  return frameOf(rawCbor.encode(o))
}

const randomBytes = (rand: Rand): Uint8Array => {
  const int = (n: number) => Math.floor(rand() * n)
  const body = new Uint8Array(int(200)).map(() => int(256))
  if (rand() < 0.3) body[0] = 0xa0 | int(32) // looks like a map
  return rand() < 0.5 ? frameOf(body) : body
}

describe("decoder fuzz", () => {
  it(`survives ${ITERATIONS} mutated and random inputs`, () => {
    const rand = mulberry32(Number(process.env["FUZZ_SEED"] ?? 0x5eed))
    const int = (n: number) => Math.floor(rand() * n)
    let decoded = 0
    let errors = 0
    let slowest = 0
    for (let i = 0; i < ITERATIONS; i++) {
      const kind = i % 4
      const input =
        kind === 0 || kind === 1
          ? mutate(rand, corpus[int(corpus.length)]!, corpus)
          : kind === 2
            ? randomMessageFrame(rand)
            : randomBytes(rand)
      const decoder = new FrameDecoder({ maxFrameBytes: rand() < 0.5 ? 1024 * 1024 : undefined })
      const maxChunk = [1, 7, 64, 4096, input.length + 1][int(5)]!
      let failure: unknown
      for (const chunk of chunked(input, rand, maxChunk)) {
        const started = performance.now()
        try {
          const out: Message[] = decoder.push(chunk)
          decoded += out.length
        } catch (e) {
          failure = e
        }
        slowest = Math.max(slowest, performance.now() - started)
        if (failure !== undefined) break
      }
      if (failure !== undefined) {
        errors++
        if (!isWireError(failure)) {
          throw new Error(`iteration ${i}: non-wire error ${String(failure)} for input ${Buffer.from(input).toString("hex").slice(0, 400)}`)
        }
        let again: unknown
        try {
          decoder.push(new Uint8Array([0]))
        } catch (e) {
          again = e
        }
        expect(again).toBe(failure)
      }
    }
    expect(slowest).toBeLessThan(MAX_PUSH_MS)
    // both outcomes must actually occur
    expect(decoded).toBeGreaterThan(500)
    expect(errors).toBeGreaterThan(500)
  })
})
