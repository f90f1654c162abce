import { describe, expect, it } from "vitest"
import { encodeFrame, FrameDecoder, type Message } from "../src/index.js"
import { CASES, chunked, fromJson, hex, loadVector, mulberry32, SIDES, toJson } from "./helpers.js"

const LZ4_TAG_HEAD = "da004c5a34"

describe.each(SIDES)("golden vectors produced by %s", (side) => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s decodes to the expected message", (_name, c) => {
    const { frame, json } = loadVector(side, c.name)
    expect(hex(frame).includes(LZ4_TAG_HEAD)).toBe(c.compressed)
    const whole = new FrameDecoder().push(frame)
    expect(whole).toHaveLength(1)
    expect(toJson(whole[0])).toEqual(json)
    // and in random chunks
    const rand = mulberry32(c.name.length)
    const decoder = new FrameDecoder()
    const pieces = chunked(frame, rand, 97).flatMap((chunk) => decoder.push(chunk))
    expect(pieces.map(toJson)).toEqual([json])
    expect(decoder.buffered).toBe(0)
  })

  it.each(CASES.map((c) => [c.name, c] as const))("%s re-encodes (TS) and decodes back", (_name, c) => {
    const { json } = loadVector(side, c.name)
    const frame = encodeFrame(fromJson(json) as Message)
    expect(hex(frame).includes(LZ4_TAG_HEAD)).toBe(c.compressed)
    expect(new FrameDecoder().push(frame).map(toJson)).toEqual([json])
  })
})

describe("all vectors at once", () => {
  it("decode from one concatenated stream, 1 byte at a time for the small ones", () => {
    for (const side of SIDES) {
      const frames = CASES.map((c) => loadVector(side, c.name))
      const small = frames.filter((f) => f.frame.length < 2000)
      const stream = Buffer.concat(small.map((f) => f.frame))
      const decoder = new FrameDecoder()
      const out: Message[] = []
      for (let i = 0; i < stream.length; i++) out.push(...decoder.push(stream.subarray(i, i + 1)))
      expect(out.map(toJson)).toEqual(small.map((f) => f.json))
      const all = Buffer.concat(frames.map((f) => f.frame))
      expect(new FrameDecoder().push(all).map(toJson)).toEqual(frames.map((f) => f.json))
    }
  })
})
