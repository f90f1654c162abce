import type { ErrorMessage, Log } from "@skyward/codec"
import type { TaskError } from "@skyward/core"

/** Bridge protocol version (the codec's PROTOCOL_VERSION). */
export const BRIDGE_PROTOCOL = 1

/** Maps core's tagged task errors onto the wire's `error` message for client task `id`. */
export const toErrorMessage = (id: number, error: TaskError): ErrorMessage => {
  switch (error._tag) {
    case "RemoteError":
      return {
        type: "error",
        id,
        kind: "user",
        excType: error.excType,
        message: error.message,
        traceback: error.traceback,
        ...(error.payload === undefined ? {} : { payload: error.payload }),
        ...(error.warnings === undefined ? {} : { warnings: [...error.warnings] }),
        ...(error.node === undefined ? {} : { node: error.node })
      }
    case "SerializationError":
      return { type: "error", id, kind: "pickle", excType: error.excType, message: error.message, traceback: error.traceback }
    case "TaskTimeout":
      return {
        type: "error",
        id,
        kind: "timeout",
        excType: "builtins.TimeoutError",
        message: `the task ran longer than its timeout of ${error.seconds}s`,
        traceback: "",
        ...(error.node === undefined ? {} : { node: error.node })
      }
    case "TaskCancelled":
      return { type: "error", id, kind: "cancelled", excType: "skyward.TaskCancelled", message: error.reason, traceback: "" }
    case "WorkerLost":
      return {
        type: "error",
        id,
        kind: "lost",
        excType: "skyward.WorkerLost",
        message: `${error.message} (after ${error.attempts} attempt${error.attempts === 1 ? "" : "s"})`,
        traceback: "",
        ...(error.node === undefined ? {} : { node: error.node })
      }
  }
}

/** The wire's stream for a scheduler log line (anything unknown is stderr). */
export const toStream = (stream: string): Log["stream"] =>
  stream === "stdout" || stream === "agent" ? stream : "stderr"
