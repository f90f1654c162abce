import { Effect, Fiber } from "effect"
import { afterEach, beforeEach, expect, it, vi } from "vitest"
import { heartbeatWatch, type WatchedLink } from "../src/internal/heartbeat-watch.js"

/** A link whose agent is silent from now on; records why it was declared lost. */
const silentLink = () => {
  const lost: string[] = []
  const link: WatchedLink = {
    lastSeen: Date.now(),
    get isClosed() {
      return lost.length > 0
    },
    lost: (reason) => void lost.push(reason)
  }
  return { link, lost }
}

beforeEach(() => void vi.useFakeTimers())
afterEach(() => void vi.useRealTimers())

/** Runs the watch (timeout 2 s: a tick every 500 ms) over `link` while `body` moves the clocks. */
const watching = async (link: WatchedLink, body: () => Promise<void>) => {
  const fiber = Effect.runFork(heartbeatWatch([link], 2))
  try {
    await body()
  } finally {
    await Effect.runPromise(Fiber.interrupt(fiber))
  }
}

it("declares an agent lost after heartbeatTimeout of silence", async () => {
  const { link, lost } = silentLink()
  await watching(link, async () => {
    await vi.advanceTimersByTimeAsync(1_600)
    expect(lost).toEqual([])
    await vi.advanceTimersByTimeAsync(1_000)
    expect(lost).toEqual(["no heartbeat for 2s"])
  })
})

it("does not count time this process was not run (suspended 20 s) against the agent", async () => {
  const { link, lost } = silentLink()
  await watching(link, async () => {
    await vi.advanceTimersByTimeAsync(250)
    vi.setSystemTime(Date.now() + 20_000) // the wall clock moves on; no timer fired meanwhile
    await vi.advanceTimersByTimeAsync(300)
    expect(lost).toEqual([])
    // silence after the resume counts again
    await vi.advanceTimersByTimeAsync(2_000)
    expect(lost).toEqual(["no heartbeat for 2s"])
  })
})
