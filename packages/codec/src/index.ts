/**
 * @skyward/codec: Skyward's wire format: length-prefixed CBOR frames with LZ4 payload compression,
 * in TypeScript (this module) and Python (`python/skyward_wire`). The contract is PROTOCOL.md.
 * @packageDocumentation
 */

import { DEFAULT_MAX_FRAME_BYTES } from "./internal/constants.js"
import { toWireError } from "./internal/errors.js"
import type { Message } from "./internal/messages.js"
import { validateMessage } from "./internal/validate.js"

export {
  /** The protocol version carried by `hello.protocol` (1). */
  PROTOCOL_VERSION,
  /** Default limit on a frame's CBOR body and on the decompressed bytes of one message: 256 MiB. */
  DEFAULT_MAX_FRAME_BYTES,
  /** Byte strings longer than this (4096 bytes) are LZ4-compressed by default when that makes them smaller. */
  DEFAULT_COMPRESS_THRESHOLD,
  /** The CBOR tag (0x4C5A34, "LZ4") wrapping an LZ4-frame-compressed byte string. */
  LZ4_TAG
} from "./internal/constants.js"

export {
  /** A frame's length prefix exceeds the decoder's `maxFrameBytes` (`length`, `max`). */
  FrameTooLarge,
  /** A frame body is not exactly one CBOR map with text keys, or a compressed byte string is corrupt (`reason`). */
  InvalidCbor,
  /** A CBOR map that is not a valid message (`messageType?`, `field?`, `reason`). */
  InvalidMessage,
  /** True for the errors the codec throws (a {@link WireError}). */
  isWireError
} from "./internal/errors.js"

/** Everything the codec throws: `FrameTooLarge | InvalidCbor | InvalidMessage`, told apart by `_tag`. */
export type { WireError } from "./internal/errors.js"

/** The message types (one interface per `type`), their union {@link Message}, and the `kind` of an error. */
export type {
  Blob,
  Cancel,
  ErrorKind,
  ErrorMessage,
  Heartbeat,
  Hello,
  Log,
  Message,
  MessageType,
  Result,
  Shutdown,
  Started,
  Submit
} from "./internal/messages.js"

/** An `error` message without its `type` and `id`: what a task failed with, forwarded as it was. */
export type { ErrorFrame } from "./internal/error-texts.js"

export {
  /** The `excType` of the error kinds that fix it (`timeout`: "skyward.TaskTimeout", ...); schema/messages.json. */
  errorExcTypes,
  /** The message of each error kind with a fixed wording (`errorTexts.timeout(2)`); schema/messages.json. */
  errorTexts
} from "./internal/error-texts.js"

export {
  /** Encodes one message as a frame: 4-byte big-endian body length, then the CBOR map. Undefined fields are omitted. */
  encodeFrame,
  /** Encodes several messages as consecutive frames in one buffer (for batched writes). */
  encodeFrames
} from "./internal/encoder.js"

export {
  /** Writes the messages queued by one burst of code as one buffer (for agent and bridge links). */
  FrameBatcher
} from "./internal/batcher.js"

/** Options of `encodeFrame` / `encodeFrames`. */
export type { EncodeOptions } from "./internal/encoder.js"

export {
  /**
   * Incremental frame decoder: `push(chunk)` returns the messages completed by `chunk`. Accepts any chunking.
   * Throws a WireError (and stays poisoned: later pushes throw the same error) on a bad frame.
   */
  FrameDecoder
} from "./internal/decoder.js"

/** Options of `FrameDecoder` and `decodeMessage`. */
export type { DecoderOptions } from "./internal/decoder.js"

/**
 * Validates an already-decoded CBOR value (e.g. from cbor-x) as a message: checks the fields of its `type`,
 * decompresses LZ4-tagged byte strings, drops unknown fields. Throws a WireError.
 */
export const decodeMessage = (value: unknown, options?: { readonly maxFrameBytes?: number }): Message => {
  try {
    return validateMessage(value, options?.maxFrameBytes ?? DEFAULT_MAX_FRAME_BYTES)
  } catch (e) {
    throw toWireError(e)
  }
}
export { codecModules } from "./internal/python.js"
