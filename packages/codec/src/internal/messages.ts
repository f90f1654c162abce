// The message types of PROTOCOL.md and the field table the validator is driven by.

/** `hello`: first message on a connection, both ways. */
export interface Hello {
  readonly type: "hello"
  /** Protocol version; {@link PROTOCOL_VERSION} for this codec. */
  readonly protocol: number
  readonly role: "agent" | "client" | "server"
  readonly token?: string
  readonly pid?: number
  readonly slots?: number
  readonly node?: number
  readonly python?: string
}

/** `submit`: run a task (node -> agent, client -> server). */
export interface Submit {
  readonly type: "submit"
  readonly id: number
  readonly kind: "pickle" | "call"
  /** kind `pickle`: cloudpickle of a zero-argument callable. */
  readonly payload?: Uint8Array
  /** kind `call`: "module:function". */
  readonly fn?: string
  /** kind `call`: the arguments, as CBOR values. */
  readonly args?: readonly unknown[]
  /** Seconds. */
  readonly timeout?: number
  /** Content hashes of the blobs the payload refers to. */
  readonly blobs?: readonly string[]
}

/** `started`: a task began running on a slot. */
export interface Started {
  readonly type: "started"
  readonly id: number
  readonly slot: number
  readonly pid?: number
  readonly node?: number
}

/** `result`: a task finished successfully. */
export interface Result {
  readonly type: "result"
  readonly id: number
  /** kind `pickle`: cloudpickle of the return value. */
  readonly payload?: Uint8Array
  /** kind `call`: the return value as a CBOR value. */
  readonly value?: unknown
  /** Pickled `warnings.WarningMessage` parts. */
  readonly warnings?: readonly Uint8Array[]
  readonly node?: number
  readonly slot?: number
  /** Seconds. */
  readonly duration?: number
}

/** The `kind` of an `error` message. */
export type ErrorKind = "user" | "timeout" | "cancelled" | "lost" | "pickle" | "protocol" | "blob"

/** `error`: a task (or, with `id: 0` and kind `protocol`, the connection) failed. */
export interface ErrorMessage {
  readonly type: "error"
  readonly id: number
  readonly kind: ErrorKind
  readonly excType: string
  readonly message: string
  readonly traceback: string
  /** The pickled exception, when picklable. */
  readonly payload?: Uint8Array
  readonly warnings?: readonly Uint8Array[]
  readonly node?: number
  readonly slot?: number
}

/** `cancel`: cancel a task. */
export interface Cancel {
  readonly type: "cancel"
  readonly id: number
  /** `"queued"`: only if it has not started (a task taken back to run elsewhere); never kills a slot. */
  readonly only?: "queued"
}

/** `heartbeat`: liveness, both ways. */
export interface Heartbeat {
  readonly type: "heartbeat"
  readonly seq: number
  /** Sender's clock, seconds since the epoch. */
  readonly time?: number
}

/** `log`: one line of output. */
export interface Log {
  readonly type: "log"
  readonly stream: "stdout" | "stderr" | "agent"
  readonly line: string
  readonly id?: number
  readonly node?: number
  readonly slot?: number
  readonly level?: string
}

/**
 * `blob`: content-addressed data a later payload refers to (client -> server, node -> agent). A
 * large blob travels in chunks: `data` is the part starting at `offset` of a blob of `total` bytes.
 */
export interface Blob {
  readonly type: "blob"
  readonly hash: string
  readonly data: Uint8Array
  readonly offset?: number
  readonly total?: number
}

/** `shutdown`: the sender is going away, both ways. */
export interface Shutdown {
  readonly type: "shutdown"
  readonly reason?: string
}

/** Every message of the protocol, discriminated on `type`. */
export type Message = Hello | Submit | Started | Result | ErrorMessage | Cancel | Heartbeat | Log | Blob | Shutdown

/** The `type` of a message. */
export type MessageType = Message["type"]

/** How a field is checked (and, for `bytes`/`bytesArray`, compressed). */
export type FieldKind =
  | "uint"
  | "float"
  | "text"
  | "bytes"
  | "array"
  | "any"
  | "textArray"
  | "bytesArray"
  | readonly string[] // one of these text values

/** One field of a message: name, kind, required. */
export type FieldSpec = readonly [name: string, kind: FieldKind, required: boolean]

const ROLES = ["agent", "client", "server"] as const
const SUBMIT_KINDS = ["pickle", "call"] as const
const ERROR_KINDS = ["user", "timeout", "cancelled", "lost", "pickle", "protocol", "blob"] as const
const STREAMS = ["stdout", "stderr", "agent"] as const
const CANCEL_ONLY = ["queued"] as const

/** The fields of each message type, in the order they are checked (the PROTOCOL.md table). */
export const MESSAGE_FIELDS: { readonly [T in MessageType]: readonly FieldSpec[] } = {
  hello: [
    ["protocol", "uint", true],
    ["role", ROLES, true],
    ["token", "text", false],
    ["pid", "uint", false],
    ["slots", "uint", false],
    ["node", "uint", false],
    ["python", "text", false]
  ],
  submit: [
    ["id", "uint", true],
    ["kind", SUBMIT_KINDS, true],
    ["payload", "bytes", false],
    ["fn", "text", false],
    ["args", "array", false],
    ["timeout", "float", false],
    ["blobs", "textArray", false]
  ],
  started: [
    ["id", "uint", true],
    ["slot", "uint", true],
    ["pid", "uint", false],
    ["node", "uint", false]
  ],
  result: [
    ["id", "uint", true],
    ["payload", "bytes", false],
    ["value", "any", false],
    ["warnings", "bytesArray", false],
    ["node", "uint", false],
    ["slot", "uint", false],
    ["duration", "float", false]
  ],
  error: [
    ["id", "uint", true],
    ["kind", ERROR_KINDS, true],
    ["excType", "text", true],
    ["message", "text", true],
    ["traceback", "text", true],
    ["payload", "bytes", false],
    ["warnings", "bytesArray", false],
    ["node", "uint", false],
    ["slot", "uint", false]
  ],
  cancel: [
    ["id", "uint", true],
    ["only", CANCEL_ONLY, false]
  ],
  heartbeat: [
    ["seq", "uint", true],
    ["time", "float", false]
  ],
  log: [
    ["stream", STREAMS, true],
    ["line", "text", true],
    ["id", "uint", false],
    ["node", "uint", false],
    ["slot", "uint", false],
    ["level", "text", false]
  ],
  blob: [
    ["hash", "text", true],
    ["data", "bytes", true],
    ["offset", "uint", false],
    ["total", "uint", false]
  ],
  shutdown: [["reason", "text", false]]
}

/** Top-level fields holding a byte string (compressed above the threshold). */
export const BYTES_FIELDS: ReadonlySet<string> = new Set(["payload", "data"])

/** Top-level fields holding an array of byte strings (each compressed above the threshold). */
export const BYTES_ARRAY_FIELDS: ReadonlySet<string> = new Set(["warnings"])

/** Top-level fields holding free-form CBOR values. */
export const ANY_FIELDS: ReadonlySet<string> = new Set(["args", "value"])
