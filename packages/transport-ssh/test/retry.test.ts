import { Chunk, Duration, Effect, Random, Schedule } from "effect"
import { describe, expect, it } from "vitest"
import { retryTransient, transientSchedule } from "../src/internal/retry.js"

type Failure = "refused" | "auth"

/** The delays the schedule waits for a run of failures (what `Effect.retry` would sleep). */
const delaysFor = (inputs: ReadonlyArray<Failure>, retries: number, seed: string) =>
  Effect.runSync(
    Schedule.run(Schedule.delays(transientSchedule<Failure>({ retries, isTransient: (e) => e === "refused" })), 0, inputs).pipe(
      Effect.map((delays) => Chunk.toReadonlyArray(delays).map(Duration.toMillis)),
      Effect.withRandom(Random.make(seed))
    )
  )

describe("the retry schedule of transient connection failures", () => {
  it("backs off exponentially with full jitter: each wait is uniform in [0, min(cap, base x 2^n)]", () => {
    const ceilings = [250, 500, 1000, 2000, 4000, 5000, 5000]
    const ratios: number[][] = ceilings.map(() => [])
    for (let run = 0; run < 300; run++) {
      const delays = delaysFor(Array(ceilings.length).fill("refused"), ceilings.length, `run-${run}`)
      expect(delays).toHaveLength(ceilings.length)
      delays.forEach((d, n) => {
        expect(d).toBeGreaterThanOrEqual(0)
        expect(d).toBeLessThanOrEqual(ceilings[n]!)
        ratios[n]!.push(d / ceilings[n]!)
      })
    }
    for (const r of ratios) {
      // the whole window is used, not just +-20% around the ceiling (Schedule.jittered)
      const mean = r.reduce((a, b) => a + b, 0) / r.length
      expect(mean).toBeGreaterThan(0.4)
      expect(mean).toBeLessThan(0.6)
      expect(r.filter((x) => x < 0.2).length).toBeGreaterThan(r.length / 10)
      expect(r.filter((x) => x > 0.8).length).toBeGreaterThan(r.length / 10)
    }
  })

  it("retries at most `retries` times, and never a failure that is not transient", async () => {
    /** How many attempts `retryTransient` makes when the attempts fail with `failures` in turn (then succeed). */
    const attempts = async (failures: ReadonlyArray<Failure>, retries: number) => {
      let made = 0
      const attempt = Effect.suspend(() => {
        const failure = failures[made++]
        return failure === undefined ? Effect.succeed("connected") : Effect.fail(failure)
      })
      const result = await Effect.runPromise(Effect.either(retryTransient(attempt, { retries, isTransient: (e) => e === "refused", base: "1 millis", cap: "2 millis" })))
      return { made, ok: result._tag === "Right" }
    }
    expect(await attempts(Array(10).fill("refused"), 3)).toEqual({ made: 4, ok: false })
    expect(await attempts(["refused", "refused"], 3)).toEqual({ made: 3, ok: true })
    expect(await attempts(["refused", "auth", "refused"], 10)).toEqual({ made: 2, ok: false })
    expect(await attempts(["auth"], 10)).toEqual({ made: 1, ok: false })
  })
})
