import { Decoder } from "cbor-x"
import { describe, expect, it } from "vitest"
import {
  DEFAULT_COMPRESS_THRESHOLD,
  encodeFrame,
  encodeFrames,
  FrameDecoder,
  PROTOCOL_VERSION,
  type Message
} from "../src/index.js"
import { hex, mulberry32, toJson } from "./helpers.js"

const plain = new Decoder({ useRecords: false, mapsAsObjects: true })
const body = (frame: Uint8Array): Record<string, unknown> => {
  expect(new DataView(frame.buffer, frame.byteOffset).getUint32(0)).toBe(frame.length - 4)
  return plain.decode(frame.subarray(4)) as Record<string, unknown>
}
const TAG = "da004c5a34"

describe("encodeFrame", () => {
  it("has the documented constants", () => {
    expect(PROTOCOL_VERSION).toBe(1)
    expect(DEFAULT_COMPRESS_THRESHOLD).toBe(4096)
  })

  it("writes a 4-byte big-endian length and one CBOR map", () => {
    const frame = encodeFrame({ type: "cancel", id: 5 })
    expect(hex(frame)).toBe("00000011" + "a2" + "6474797065" + "6663616e63656c" + "626964" + "05")
  })

  it("omits undefined fields", () => {
    const frame = encodeFrame({ type: "shutdown", reason: undefined })
    expect(body(frame)).toEqual({ type: "shutdown" })
  })

  it("writes integral numbers as CBOR ints, at any magnitude", () => {
    for (const n of [0, 23, 24, 255, 65536, 2 ** 32, 2 ** 40, 2 ** 53 - 1]) {
      const frame = encodeFrame({ type: "cancel", id: n })
      const b = hex(frame)
      expect(b).not.toContain("fb") // no float64 head... (no other fb byte occurs in these frames)
      expect(new FrameDecoder().push(frame)).toEqual([{ type: "cancel", id: n }])
    }
    const frame = encodeFrame({ type: "result", id: 1, value: [2 ** 40, -(2 ** 40), { a: 2 ** 50 }, 1.5, -1e300] })
    const raw = hex(frame)
    expect(raw).toContain("1b0000010000000000") // 2^40
    expect(raw).toContain("3b000000ffffffffff") // -(2^40)
    expect(raw).toContain("1b0004000000000000") // 2^50
    expect(raw).toContain("fb3ff8000000000000") // 1.5
    expect(new FrameDecoder().push(frame)).toEqual([
      { type: "result", id: 1, value: [2 ** 40, -(2 ** 40), { a: 2 ** 50 }, 1.5, -1e300] }
    ])
  })

  it("compresses byte strings above the threshold only, and only when smaller", () => {
    const zeros = (n: number) => new Uint8Array(n)
    expect(hex(encodeFrame({ type: "blob", hash: "h", data: zeros(4096) }))).not.toContain(TAG)
    expect(hex(encodeFrame({ type: "blob", hash: "h", data: zeros(4097) }))).toContain(TAG)
    expect(hex(encodeFrame({ type: "blob", hash: "h", data: zeros(200) }, { compressThreshold: 100 }))).toContain(TAG)
    const rand = mulberry32(1)
    const noise = new Uint8Array(20_000).map(() => Math.floor(rand() * 256))
    const frame = encodeFrame({ type: "blob", hash: "h", data: noise })
    expect(hex(frame)).not.toContain(TAG)
    expect(frame.length).toBeLessThan(20_000 + 40)
    // every listed byte field, each element of warnings; nothing else
    const big = zeros(10_000)
    const m: Message = { type: "result", id: 1, payload: big, warnings: [big, zeros(3)], value: big }
    const b = body(encodeFrame(m))
    expect((b["payload"] as { tag: number }).tag).toBe(0x4c5a34)
    const w = b["warnings"] as Array<{ tag?: number }>
    expect(w[0]!.tag).toBe(0x4c5a34)
    expect(w[1]).toBeInstanceOf(Uint8Array)
    expect(b["value"]).toBeInstanceOf(Uint8Array)
    expect(new FrameDecoder().push(encodeFrame(m)).map(toJson)).toEqual([toJson(m)])
  })

  it("encodeFrames concatenates frames", () => {
    const ms: Message[] = [
      { type: "heartbeat", seq: 1 },
      { type: "blob", hash: "x", data: new Uint8Array(9000).fill(1) },
      { type: "heartbeat", seq: 2 }
    ]
    const all = encodeFrames(ms)
    expect(hex(all)).toBe(ms.map((m) => hex(encodeFrame(m))).join(""))
    expect(new FrameDecoder().push(all)).toEqual(ms)
    expect(encodeFrames([]).length).toBe(0)
  })

  it("round-trips random valid messages", () => {
    const rand = mulberry32(42)
    const int = (n: number) => Math.floor(rand() * n)
    const bytes = () => {
      const n = [0, 5, 4096, 4097, 20_000][int(5)]!
      const b = new Uint8Array(n)
      const mode = int(2)
      for (let i = 0; i < n; i++) b[i] = mode ? int(256) : i % 7
      return b
    }
    const value = (depth: number): unknown => {
      switch (int(depth > 2 ? 6 : 8)) {
        case 0:
          return int(1000) - 500
        case 1:
          return rand() * 1e6
        case 2:
          return "s\u00e9" + int(100)
        case 3:
          return null
        case 4:
          return rand() < 0.5
        case 5:
          return bytes().subarray(0, 10)
        case 6:
          return Array.from({ length: int(4) }, () => value(depth + 1))
        default:
          return Object.fromEntries(Array.from({ length: int(4) }, (_, i) => [`k${i}`, value(depth + 1)]))
      }
    }
    for (let i = 0; i < 300; i++) {
      const ms: Message[] = [
        { type: "submit", id: int(1e6), kind: "call", fn: "a:b", args: [value(0), value(0)], timeout: rand() * 10 },
        { type: "submit", id: int(1e6), kind: "pickle", payload: bytes(), blobs: ["a", "b"] },
        { type: "result", id: int(1e6), value: value(0), warnings: [bytes(), bytes()], duration: rand() },
        { type: "error", id: 0, kind: "protocol", excType: "E", message: "m", traceback: "", payload: bytes() },
        { type: "blob", hash: "h" + i, data: bytes() }
      ]
      const frames = encodeFrames(ms, { compressThreshold: int(2) ? 4096 : 0 })
      expect(new FrameDecoder().push(frames).map(toJson)).toEqual(ms.map(toJson))
    }
  })
})
