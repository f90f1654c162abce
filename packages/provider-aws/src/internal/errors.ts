import { Cause, Data, Effect } from "effect"

/** An EC2 or SSM call failed; `code` is the AWS error code (`InsufficientInstanceCapacity`, ...). */
export class AwsCallError extends Data.TaggedError("AwsCallError")<{
  readonly operation: string
  readonly code: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** Credentials or region are missing or unusable; found before anything is created. */
export class AwsSetupError extends Data.TaggedError("AwsSetupError")<{
  readonly field: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** One instance that did not come up, and why. */
export interface InstanceFailure {
  readonly index: number
  readonly instanceId?: string
  readonly reason: string
}

/** Some instances never became running and reachable over SSH; everything was torn down. */
export class InstancesFailed extends Data.TaggedError("InstancesFailed")<{
  readonly failures: ReadonlyArray<InstanceFailure>
  readonly total: number
  readonly message: string
}> {}

/** Error codes for which `spot-if-available` falls back to on-demand. */
export const SPOT_FALLBACK_CODES: ReadonlySet<string> = new Set([
  "InsufficientInstanceCapacity",
  "SpotMaxPriceTooLow",
  "MaxSpotInstanceCountExceeded",
  "InsufficientCapacity",
  "SpotCapacityNotAvailable",
  "UnfulfillableCapacity",
  "capacity-not-available",
  "price-too-low"
])

/** Wraps a rejected SDK promise as an `AwsCallError` (the SDK's error `name` is the AWS code). */
export const toCallError = (operation: string) => (cause: unknown): AwsCallError => {
  const e = cause as { name?: string; Code?: string; message?: string }
  const code = e?.Code ?? e?.name ?? "Unknown"
  return new AwsCallError({ operation, code, message: `${operation}: ${code}: ${e?.message ?? String(cause)}`, cause })
}

const messageOf = (error: unknown) => (error as { message?: string })?.message ?? String(error)

/**
 * For releases: a failure to delete something is logged as a warning that says how to remove it
 * later (`skyward down <pool>`), and the release goes on with the rest.
 */
export const warnOnFailure =
  (what: string, poolId: string) =>
  <E>(effect: Effect.Effect<void, E>): Effect.Effect<void> =>
    effect.pipe(
      Effect.catchAllCause((cause) =>
        Cause.isInterruptedOnly(cause)
          ? Effect.void
          : Effect.logWarning(
              `skyward: could not delete ${what} of pool ${poolId}: ${messageOf(Cause.squash(cause))}; remove what is left with: skyward down ${poolId}`
            )
      )
    )
