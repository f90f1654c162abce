import { describe, expect, it } from "vitest"
import { FrameBatcher, FrameDecoder, type Message } from "../src/index.js"

const microtasks = () => Promise.resolve()

describe("FrameBatcher", () => {
  it("writes a burst of messages as one buffer, in order, before the next I/O callback", async () => {
    const writes: Uint8Array[] = []
    const batcher = new FrameBatcher((bytes) => writes.push(bytes))
    for (let id = 1; id <= 100; id++) batcher.push({ type: "cancel", id })
    expect(writes).toHaveLength(0)
    await microtasks()
    expect(writes).toHaveLength(1)
    const decoded = new FrameDecoder().push(writes[0]!) as Message[]
    expect(decoded.map((m) => (m.type === "cancel" ? m.id : -1))).toEqual(Array.from({ length: 100 }, (_, i) => i + 1))
  })

  it("passes its encode options on: a large payload stays raw when compression is off", async () => {
    const writes: Uint8Array[] = []
    const payload = new Uint8Array(100_000) // all zeros: LZ4 would shrink it to almost nothing
    new FrameBatcher((bytes) => writes.push(bytes), { compressThreshold: Infinity }).push({ type: "blob", hash: "h", data: payload })
    await microtasks()
    expect(writes[0]!.length).toBeGreaterThan(100_000)
  })

  it("writes nothing once closed", async () => {
    const writes: Uint8Array[] = []
    const batcher = new FrameBatcher((bytes) => writes.push(bytes))
    batcher.push({ type: "cancel", id: 1 })
    batcher.close()
    batcher.push({ type: "cancel", id: 2 })
    await microtasks()
    expect(writes).toHaveLength(0)
  })
})
