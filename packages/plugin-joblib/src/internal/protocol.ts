import { type ErrorFrame, type ErrorKind, type ErrorMessage, errorExcTypes, errorTexts, type Log } from "@skyward/codec"
import type { TaskError } from "@skyward/contracts"
import type { BlobRefusal } from "./blob-intake.js"

/** Bridge protocol version (the codec's PROTOCOL_VERSION). */
export const BRIDGE_PROTOCOL = 1

/** The wire `kind` of each tagged task error. */
const KIND_OF = {
  RemoteError: "user",
  SerializationError: "pickle",
  TaskTimeout: "timeout",
  TaskCancelled: "cancelled",
  WorkerLost: "lost"
} as const satisfies { readonly [Tag in TaskError["_tag"]]: ErrorKind }

/**
 * The `error` frame that tells a client about `error`: the agent's own frame as it was, when an agent
 * made it; else one for the error Node made (a timeout it enforced, a cancel, a node lost), whose
 * message is the error's own (worded by the codec's `errorTexts`).
 */
const frameOf = (error: TaskError): ErrorFrame => {
  if ("frame" in error && error.frame !== undefined) return error.frame
  const node = "node" in error && error.node !== undefined ? { node: error.node } : {}
  switch (error._tag) {
    case "RemoteError":
      return {
        kind: KIND_OF[error._tag],
        excType: error.excType,
        message: error.message,
        traceback: error.traceback,
        ...(error.payload === undefined ? {} : { payload: error.payload }),
        ...(error.warnings === undefined ? {} : { warnings: [...error.warnings] }),
        ...node
      }
    case "SerializationError":
      return { kind: KIND_OF[error._tag], excType: error.excType, message: error.message, traceback: error.traceback }
    default:
      return { kind: KIND_OF[error._tag], excType: errorExcTypes[KIND_OF[error._tag]], message: error.message, traceback: "", ...node }
  }
}

/** The wire's `error` message for client task `id` that failed with `error`. */
export const toErrorMessage = (id: number, error: TaskError): ErrorMessage => ({ ...frameOf(error), type: "error", id })

/** Tells the client to send these blobs again, then the task (the pool dropped them to stay in budget). */
export const blobError = (id: number, missing: ReadonlyArray<string>): ErrorMessage => ({
  type: "error",
  id,
  kind: "blob",
  excType: errorExcTypes.blob,
  message: errorTexts.blob("the pool", missing.join(", ")),
  traceback: ""
})

/** Tells the client that a blob its task names was refused (too large, or bytes that do not hash to its name). */
export const blobRefusedError = (id: number, refusal: BlobRefusal): ErrorMessage => ({
  type: "error",
  id,
  kind: "pickle",
  excType: refusal.excType,
  message: refusal.message,
  traceback: ""
})

/** A client's message the bridge cannot act on (`reason` says why). */
export const protocolError = (id: number, reason: string): ErrorMessage => ({
  type: "error",
  id,
  kind: "protocol",
  excType: errorExcTypes.protocol,
  message: reason,
  traceback: ""
})

/** The wire's stream for a scheduler log line (anything unknown is stderr). */
export const toStream = (stream: string): Log["stream"] =>
  stream === "stdout" || stream === "agent" ? stream : "stderr"
