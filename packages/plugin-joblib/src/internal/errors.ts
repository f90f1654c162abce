import { Data } from "effect"

/** The client bridge could not start (temporary directory, socket, permissions). */
export class BridgeError extends Data.TaggedError("BridgeError")<{
  readonly message: string
  readonly cause?: unknown
}> {}
