import { Writable } from "node:stream"
import type { PoolEvent } from "@skyward/contracts"
import { describe, expect, it } from "vitest"
import { makeProgress, type ProgressMode } from "../src/internal/progress.js"

/** A stream that keeps what is written to it. */
const fakeStream = (tty: boolean) => {
  const chunks: string[] = []
  const stream = Object.assign(
    new Writable({
      write(chunk, _encoding, done) {
        chunks.push(String(chunk))
        done()
      }
    }),
    { isTTY: tty, columns: 100 }
  )
  return { stream, text: () => chunks.join("") }
}

const stats = (node: number, cpu: number): PoolEvent => ({ _tag: "NodeStats", node, cpu, memUsed: 1 << 30, memTotal: 1 << 32 })

describe("NodeStats (each heartbeat of each node) is not progress", () => {
  it("--json: left out of the JSON lines", () => {
    const { stream, text } = fakeStream(false)
    const progress = makeProgress("json", stream)
    const ready: PoolEvent = { _tag: "NodeReady", node: 0, slots: 2, pid: 1000 }
    for (const event of [ready, stats(0, 0.5), stats(0, 0.25)]) progress.listener!(event)
    progress.stop()
    expect(text().trimEnd().split("\n").map((line) => JSON.parse(line) as unknown)).toEqual([ready])
  })

  for (const [mode, tty] of [["auto", false], ["auto", true], ["quiet", false]] as const satisfies ReadonlyArray<readonly [ProgressMode, boolean]>)
    it(`${mode}${tty ? " (terminal)" : ""}: says nothing of it`, () => {
      const { stream, text } = fakeStream(tty)
      const progress = makeProgress(mode, stream)
      for (let i = 0; i < 10; i++) progress.listener?.(stats(i % 2, i / 10))
      progress.stop()
      expect(text()).toBe("")
    })
})
