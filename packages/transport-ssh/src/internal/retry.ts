import { Duration, Effect, Schedule } from "effect"

/** Settings of `retryTransient`. */
export interface RetryOptions<E> {
  /** Retries after the first attempt. */
  readonly retries: number
  /** Only these errors are retried; any other fails at once. */
  readonly isTransient: (error: E) => boolean
  /** The backoff's first ceiling. Default 250 ms. */
  readonly base?: Duration.DurationInput
  /** The largest ceiling. Default 5 s. */
  readonly cap?: Duration.DurationInput
}

/**
 * The delays of `retryTransient`: exponential backoff with full jitter. The wait before retry `n`
 * (0-based) is drawn uniformly from `[0, min(cap, base x 2^n)]`, so clients that failed together
 * (a pool connecting to many hosts at once) spread their retries over the whole window instead
 * of retrying in step. At most `retries` recurrences, and only while the input is transient.
 */
export const transientSchedule = <E>(options: RetryOptions<E>): Schedule.Schedule<[Duration.Duration, number], E> => {
  const cap = Duration.toMillis(options.cap ?? "5 seconds")
  return Schedule.exponential(options.base ?? "250 millis", 2).pipe(
    Schedule.modifyDelay((d) => Duration.millis(Math.min(cap, Duration.toMillis(d)))),
    // full jitter: the capped delay times a uniform factor in [0, 1] (Schedule.jittered is only 0.8-1.2)
    Schedule.jitteredWith({ min: 0, max: 1 }),
    Schedule.intersect(Schedule.recurs(options.retries)),
    Schedule.whileInput(options.isTransient)
  )
}

/**
 * Retries `effect` while its error is `transient`, with exponential backoff (from `base`, doubling,
 * capped at `cap`) and full jitter (see `transientSchedule`), at most `retries` times.
 */
export const retryTransient = <A, E, R>(effect: Effect.Effect<A, E, R>, options: RetryOptions<E>): Effect.Effect<A, E, R> =>
  Effect.retry(effect, transientSchedule(options))
