import { Data } from "effect"

/** A frame's length prefix exceeds the decoder's `maxFrameBytes`. */
export class FrameTooLarge extends Data.TaggedError("FrameTooLarge")<{
  /** The length the prefix claims (CBOR bytes). */
  readonly length: number
  /** The decoder's limit. */
  readonly max: number
}> {
  override get message(): string {
    return `frame of ${this.length} bytes exceeds the limit of ${this.max} bytes`
  }
}

/** A frame body is not exactly one well-formed CBOR map with text keys, or a compressed byte string is corrupt. */
export class InvalidCbor extends Data.TaggedError("InvalidCbor")<{
  /** What is wrong. */
  readonly reason: string
}> {
  override get message(): string {
    return `invalid CBOR: ${this.reason}`
  }
}

/** A well-formed CBOR map that is not a valid message (unknown type, missing or mistyped field). */
export class InvalidMessage extends Data.TaggedError("InvalidMessage")<{
  /** The message `type`, when it is a text string. */
  readonly messageType?: string | undefined
  /** The offending field, when there is one. */
  readonly field?: string | undefined
  /** What is wrong. */
  readonly reason: string
}> {
  override get message(): string {
    const where = [this.messageType, this.field].filter((x) => x !== undefined).join(".")
    return `invalid message${where ? ` (${where})` : ""}: ${this.reason}`
  }
}

/** Everything the codec throws. */
export type WireError = FrameTooLarge | InvalidCbor | InvalidMessage

/** True for the errors the codec throws. */
export const isWireError = (u: unknown): u is WireError =>
  u instanceof FrameTooLarge || u instanceof InvalidCbor || u instanceof InvalidMessage

/** Turns anything thrown while decoding into a WireError (non-wire errors become InvalidCbor). */
export const toWireError = (u: unknown): WireError => {
  if (isWireError(u)) return u
  if (u instanceof Error) return new InvalidCbor({ reason: u.message || u.name })
  return new InvalidCbor({ reason: String(u) })
}
