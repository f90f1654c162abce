import { Duration, Effect, Schedule } from "effect"

/**
 * Retries `effect` while its error is `transient`, with exponential backoff (from `base`, doubling)
 * and full jitter, at most `retries` times.
 */
export const retryTransient = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options: {
    readonly retries: number
    readonly isTransient: (error: E) => boolean
    readonly base?: Duration.DurationInput
    readonly cap?: Duration.DurationInput
  }
): Effect.Effect<A, E, R> => {
  const cap = Duration.toMillis(options.cap ?? "5 seconds")
  const schedule = Schedule.exponential(options.base ?? "250 millis", 2).pipe(
    Schedule.modifyDelay((d) => Duration.millis(Math.min(cap, Duration.toMillis(d)))),
    Schedule.jittered,
    Schedule.intersect(Schedule.recurs(options.retries)),
    Schedule.whileInput(options.isTransient)
  )
  return Effect.retry(effect, schedule)
}
