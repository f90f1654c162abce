import { Data } from "effect"

/** A problem with what the user typed or configured: printed as one line, exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}

/** No pool of that name is up (for this user): printed as one line, exit code 1. */
export class PoolNotFound extends Data.TaggedError("PoolNotFound")<{ readonly name: string; readonly message: string }> {}

/** The {@link PoolNotFound} for `name`, saying where pools are listed and made. */
export const poolNotFound = (name: string): PoolNotFound =>
  new PoolNotFound({ name, message: `no pool named ${name} is up (skyward ls lists them; skyward up --name ${name} makes one)` })
