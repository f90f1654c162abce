import { Data } from "effect"

/** A problem with what the user typed or configured: printed as one line, exit code 2. */
export class UsageError extends Data.TaggedError("UsageError")<{ readonly message: string }> {}
