import { describe, expect, it } from "vitest"
import {
  DEFAULT_MAX_FRAME_BYTES,
  decodeMessage,
  encodeFrame,
  encodeFrames,
  FrameDecoder,
  FrameTooLarge,
  InvalidCbor,
  InvalidMessage,
  isWireError,
  LZ4_TAG,
  type Message,
  type WireError
} from "../src/index.js"
import { frameOf, hex, rawCbor, toJson } from "./helpers.js"

const frameValue = (v: unknown): Uint8Array => frameOf(rawCbor.encode(v))

const catchWire = (f: () => unknown): WireError => {
  try {
    f()
  } catch (e) {
    expect(isWireError(e)).toBe(true)
    return e as WireError
  }
  throw new Error("expected a WireError")
}

const pushError = (bytes: Uint8Array, options?: { maxFrameBytes?: number }): WireError =>
  catchWire(() => new FrameDecoder(options).push(bytes))

const messages: Message[] = [
  { type: "hello", protocol: 1, role: "client", token: "t" },
  { type: "submit", id: 1, kind: "call", fn: "m:f", args: [1, "a", [true, null]], timeout: 1.5 },
  { type: "heartbeat", seq: 7, time: 12.25 },
  { type: "log", stream: "stdout", line: "hi" },
  { type: "shutdown" }
]

describe("FrameDecoder", () => {
  it("decodes several frames from one chunk", () => {
    const out = new FrameDecoder().push(encodeFrames(messages))
    expect(out).toEqual(messages)
  })

  it("decodes one byte at a time", () => {
    const bytes = encodeFrames(messages)
    const decoder = new FrameDecoder()
    const out: Message[] = []
    for (let i = 0; i < bytes.length; i++) {
      out.push(...decoder.push(bytes.subarray(i, i + 1)))
      expect(decoder.buffered).toBeLessThanOrEqual(i + 1)
    }
    expect(out).toEqual(messages)
    expect(decoder.buffered).toBe(0)
  })

  it("counts buffered bytes, including a read length prefix", () => {
    const frame = encodeFrame(messages[0]!)
    const decoder = new FrameDecoder()
    expect(decoder.push(frame.subarray(0, 2))).toEqual([])
    expect(decoder.buffered).toBe(2)
    expect(decoder.push(frame.subarray(2, 7))).toEqual([])
    expect(decoder.buffered).toBe(7)
    expect(decoder.push(frame.subarray(7))).toEqual([messages[0]])
    expect(decoder.buffered).toBe(0)
    expect(decoder.push(new Uint8Array(0))).toEqual([])
  })

  it("rejects an oversized length prefix right after 4 bytes, without allocating", () => {
    const decoder = new FrameDecoder({ maxFrameBytes: 1024 * 1024 })
    expect(decoder.push(new Uint8Array([0xff, 0xff, 0xff]))).toEqual([])
    const e = catchWire(() => decoder.push(new Uint8Array([0xff])))
    expect(e).toBeInstanceOf(FrameTooLarge)
    expect(e).toMatchObject({ _tag: "FrameTooLarge", length: 0xffffffff, max: 1024 * 1024 })
    // poisoned: the same error again, whatever comes next
    expect(catchWire(() => decoder.push(encodeFrame(messages[0]!)))).toBe(e)
    expect(decoder.buffered).toBe(0)
  })

  it("accepts a frame of exactly maxFrameBytes and rejects one byte more", () => {
    const frame = encodeFrame({ type: "blob", hash: "h", data: new Uint8Array(200) })
    const size = frame.length - 4
    expect(new FrameDecoder({ maxFrameBytes: size }).push(frame)).toHaveLength(1)
    expect(pushError(frame, { maxFrameBytes: size - 1 })).toMatchObject({ _tag: "FrameTooLarge", length: size })
  })

  it("uses the 256 MiB default", () => {
    const prefix = new Uint8Array([0x10, 0x00, 0x00, 0x01]) // 256 MiB + 1
    expect(pushError(prefix)).toMatchObject({ _tag: "FrameTooLarge", max: DEFAULT_MAX_FRAME_BYTES })
  })

  it("rejects an empty frame", () => {
    expect(pushError(new Uint8Array(4))).toBeInstanceOf(InvalidCbor)
  })

  it("rejects invalid CBOR", () => {
    expect(pushError(frameOf(new Uint8Array([0xa1, 0x61])))).toBeInstanceOf(InvalidCbor) // truncated
    expect(pushError(frameOf(new Uint8Array([0xff])))).toBeInstanceOf(InvalidCbor) // break
    expect(pushError(frameOf(new Uint8Array([0x1c])))).toBeInstanceOf(InvalidCbor) // reserved
  })

  it("rejects a body that is not a map, non-text keys, and trailing bytes", () => {
    expect(pushError(frameValue([1, 2]))).toMatchObject({ _tag: "InvalidCbor" })
    expect(pushError(frameValue("cancel"))).toMatchObject({ _tag: "InvalidCbor" })
    const intKey = frameValue(new Map<unknown, unknown>([["type", "cancel"], ["id", 1], [5, 6]]))
    expect(pushError(intKey)).toMatchObject({ _tag: "InvalidCbor", reason: expect.stringContaining("text") })
    const body = rawCbor.encode({ type: "cancel", id: 1 })
    expect(pushError(frameOf(Buffer.concat([body, Buffer.from([0])])))).toMatchObject({ _tag: "InvalidCbor" })
  })

  it("rejects an unknown type, naming it", () => {
    expect(pushError(frameValue({ type: "nope" }))).toMatchObject({
      _tag: "InvalidMessage",
      messageType: "nope",
      field: "type"
    })
    expect(pushError(frameValue({ id: 1 }))).toMatchObject({ _tag: "InvalidMessage", field: "type" })
    expect(pushError(frameValue({ type: 5 }))).toMatchObject({ _tag: "InvalidMessage", field: "type" })
  })

  it("names the missing or mistyped field", () => {
    expect(pushError(frameValue({ type: "cancel" }))).toMatchObject({ messageType: "cancel", field: "id" })
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ type: "cancel", id: "1" }, "id"],
      [{ type: "cancel", id: -1 }, "id"],
      [{ type: "cancel", id: 1.5 }, "id"],
      [{ type: "cancel", id: 2 ** 53 }, "id"],
      [{ type: "hello", protocol: 1, role: "boss" }, "role"],
      [{ type: "submit", id: 1, kind: "pickle", payload: "not bytes" }, "payload"],
      [{ type: "submit", id: 1, kind: "call", args: { a: 1 } }, "args"],
      [{ type: "submit", id: 1, kind: "call", blobs: ["a", 1] }, "blobs"],
      [{ type: "submit", id: 1, kind: "call", timeout: "soon" }, "timeout"],
      [{ type: "result", id: 1, warnings: [new Uint8Array(1), "x"] }, "warnings"],
      [{ type: "log", stream: "stdout", line: null }, "line"],
      [{ type: "heartbeat", seq: true }, "seq"],
      [{ type: "blob", hash: "h" }, "data"],
      [{ type: "blob", hash: "h", data: new Uint8Array(1), offset: -1 }, "offset"],
      [{ type: "blob", hash: "h", data: new Uint8Array(1), total: "big" }, "total"],
      [{ type: "error", id: 1, kind: "missing", excType: "", message: "", traceback: "" }, "kind"]
    ]
    for (const [value, field] of cases) {
      const e = pushError(frameValue(value))
      expect(e).toBeInstanceOf(InvalidMessage)
      expect(e).toMatchObject({ messageType: value["type"], field })
      expect(e.message).toContain(field)
    }
  })

  it("accepts ints for floats, ignores unknown fields, keeps the given fields only", () => {
    const out = new FrameDecoder().push(frameValue({ type: "heartbeat", seq: 1, time: 3, extra: { x: 1 } }))
    expect(out).toEqual([{ type: "heartbeat", seq: 1, time: 3 }])
  })

  it("decodes 8-byte integers as numbers", () => {
    const body = Buffer.from("a2647479706566636" + "16e63656c6269641b0000010000000000", "hex")
    expect(new FrameDecoder().push(frameOf(body))).toEqual([{ type: "cancel", id: 2 ** 40 }])
  })

  it("maps a corrupt LZ4 payload to InvalidCbor, and an over-budget one too", () => {
    const frame = encodeFrame({ type: "blob", hash: "h", data: new Uint8Array(50_000) })
    expect(hex(frame)).toContain("da004c5a34")
    const corrupt = frame.slice()
    corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0xff
    const e = pushError(corrupt)
    expect(e._tag === "InvalidCbor" || e._tag === "InvalidMessage").toBe(true)
    // decompressing beyond maxFrameBytes is refused, although the frame itself is small
    expect(pushError(frame, { maxFrameBytes: 40_000 })).toMatchObject({
      _tag: "InvalidCbor",
      reason: expect.stringContaining("limit")
    })
    // the budget is per message, across fields
    const two = encodeFrame({ type: "result", id: 1, warnings: [new Uint8Array(30_000), new Uint8Array(30_000)] })
    expect(new FrameDecoder({ maxFrameBytes: 60_000 }).push(two)).toHaveLength(1)
    expect(pushError(two, { maxFrameBytes: 59_999 })).toMatchObject({ _tag: "InvalidCbor" })
  })

  it("keeps the decoded messages it returned before a bad frame in an earlier push", () => {
    const decoder = new FrameDecoder()
    expect(decoder.push(encodeFrame(messages[0]!))).toHaveLength(1)
    expect(catchWire(() => decoder.push(frameValue({ type: "x" })))).toBeInstanceOf(InvalidMessage)
  })

  it("handles a 200 MB frame in 64 KiB chunks in linear time", () => {
    const size = 200 * 1024 * 1024
    const data = new Uint8Array(size)
    for (let i = 0; i < size; i += 4096) data[i] = i & 0xff
    const frame = encodeFrame({ type: "blob", hash: "big", data }, { compressThreshold: size })
    const decoder = new FrameDecoder()
    const started = performance.now()
    const out: Message[] = []
    for (let i = 0; i < frame.length; i += 65536) out.push(...decoder.push(frame.subarray(i, i + 65536)))
    const ms = performance.now() - started
    expect(out).toHaveLength(1)
    const blob = out[0] as Extract<Message, { type: "blob" }>
    expect(blob.data.length).toBe(size)
    expect(blob.data[4096 * 7]).toBe((4096 * 7) & 0xff)
    expect(ms).toBeLessThan(5000)
  })
})

describe("decodeMessage", () => {
  it("validates plain values and decompresses LZ4 tags", async () => {
    const { Tag } = await import("cbor-x")
    const lz4js = (await import("lz4js")).default
    const data = new Uint8Array(10_000).fill(3)
    const m = decodeMessage({ type: "blob", hash: "h", data: new Tag(lz4js.compress(data), LZ4_TAG) })
    expect(m).toEqual({ type: "blob", hash: "h", data })
    expect(() => decodeMessage(null)).toThrow(InvalidMessage)
    expect(() => decodeMessage({ type: "blob", hash: "h", data: new Tag(new Uint8Array(3), LZ4_TAG) })).toThrow(
      InvalidCbor
    )
    expect(() => decodeMessage({ type: "blob", hash: "h", data: new Tag(data, 99) })).toThrow(InvalidMessage)
  })

  it("round-trips the messages through toJson", () => {
    for (const m of messages) expect(toJson(decodeMessage(m))).toEqual(toJson(m))
  })
})
