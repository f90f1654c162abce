// Generated from schema/messages.json by scripts/gen-messages.mjs: do not edit. Run `npx -y pnpm@10 --filter @skyward/codec gen:messages`.
// The message types of PROTOCOL.md and the field table the validator is driven by.

/** Who says `hello`. */
export type Role = "agent" | "client" | "server"

/** How a `submit` names its work. */
export type SubmitKind = "pickle" | "call"

/** Where a `log` line was written. */
export type LogStream = "stdout" | "stderr" | "agent"

/** What a `cancel` is limited to. */
export type CancelOnly = "queued"

/** The `kind` of an `error` message. */
export type ErrorKind = "user" | "timeout" | "cancelled" | "lost" | "pickle" | "protocol" | "blob"

/** `hello` (both): first message on a connection. */
export interface Hello {
  readonly type: "hello"
  /** = 1, the codec's PROTOCOL_VERSION. */
  readonly protocol: number
  readonly role: Role
  readonly token?: string
  readonly pid?: number
  readonly slots?: number
  readonly node?: number
  readonly python?: string
  /** Server: the most bytes of blobs one task may refer to, the pool's argumentLimit. */
  readonly maxBlobBytes?: number
  /** Server: the most slots an elastic pool may grow to (absent for a fixed node count). */
  readonly maxSlots?: number
}

/** `submit` (node->agent, client->server): run a task. */
export interface Submit {
  readonly type: "submit"
  readonly id: number
  readonly kind: SubmitKind
  /** Kind pickle: cloudpickle of a zero-argument callable. */
  readonly payload?: Uint8Array
  /** Kind call: "module:function". */
  readonly fn?: string
  /** Kind call: the arguments, as CBOR values. */
  readonly args?: readonly unknown[]
  /** Seconds. */
  readonly timeout?: number
  /** Content hashes of the blobs the payload refers to. */
  readonly blobs?: readonly string[]
  /** Client->server: how many of the client's calls the task runs (a joblib batch's size), for progress. */
  readonly calls?: number
  /** Client->server: which of the client's joblib calls (`Parallel(...)(...)`, numbered from 1) the task belongs to, for progress. */
  readonly call?: number
  /** Client->server: how many calls that joblib call runs in all, when joblib knows it (its input has a length). */
  readonly callTotal?: number
}

/** `started` (agent->node): a task began running on a slot. */
export interface Started {
  readonly type: "started"
  readonly id: number
  readonly slot: number
  readonly pid?: number
  readonly node?: number
}

/** `result` (agent->node, server->client): a task finished successfully. */
export interface Result {
  readonly type: "result"
  readonly id: number
  /** Kind pickle: cloudpickle of the return value. */
  readonly payload?: Uint8Array
  /** Kind call: the return value as a CBOR value. */
  readonly value?: unknown
  /** Pickled `warnings.WarningMessage` parts. */
  readonly warnings?: readonly Uint8Array[]
  readonly node?: number
  readonly slot?: number
  /** Seconds. */
  readonly duration?: number
}

/** `error` (agent->node, server->client): a task (or, with `id: 0` and kind `protocol`, the connection) failed. */
export interface ErrorMessage {
  readonly type: "error"
  readonly id: number
  readonly kind: ErrorKind
  /** Qualified name of the exception type, e.g. "builtins.ValueError". */
  readonly excType: string
  readonly message: string
  readonly traceback: string
  /** The pickled exception, when picklable. */
  readonly payload?: Uint8Array
  readonly warnings?: readonly Uint8Array[]
  readonly node?: number
  readonly slot?: number
}

/** `cancel` (node->agent, client->server): cancel a task. */
export interface Cancel {
  readonly type: "cancel"
  readonly id: number
  /** Cancel only if the task has not started (the scheduler takes back a task an agent holds ahead of its slots, to run it on an idle node); a started task then runs on and answers as usual. */
  readonly only?: CancelOnly
}

/** `heartbeat` (both): liveness. */
export interface Heartbeat {
  readonly type: "heartbeat"
  readonly seq: number
  /** The sender's clock, seconds since the epoch. */
  readonly time?: number
  /** Agent: the machine's CPU busy fraction, 0 to 1, since its previous heartbeat. */
  readonly cpu?: number
  /** Agent: bytes of the machine's memory in use, its total less what is available. */
  readonly memUsed?: number
  /** Agent: bytes of the machine's memory. */
  readonly memTotal?: number
}

/** `log` (agent->node, server->client): one line of output. */
export interface Log {
  readonly type: "log"
  readonly stream: LogStream
  readonly line: string
  readonly id?: number
  readonly node?: number
  readonly slot?: number
  readonly level?: string
}

/** `blob` (client->server, node->agent): content-addressed data a later payload refers to. A large blob travels in chunks: `data` is the part starting at `offset` of a blob of `total` bytes; without them `data` is the whole blob. */
export interface Blob {
  readonly type: "blob"
  readonly hash: string
  readonly data: Uint8Array
  readonly offset?: number
  readonly total?: number
}

/** `shutdown` (both): the sender is going away. */
export interface Shutdown {
  readonly type: "shutdown"
  readonly reason?: string
}

/** Every message of the protocol, discriminated on `type`. */
export type Message = Hello | Submit | Started | Result | ErrorMessage | Cancel | Heartbeat | Log | Blob | Shutdown

/** The `type` of a message. */
export type MessageType = Message["type"]

/** How a field is checked (and, for `bytes`/`bytesArray`, compressed): a kind, or the text values it may take. */
export type FieldKind = "uint" | "float" | "text" | "bytes" | "array" | "any" | "textArray" | "bytesArray" | readonly string[]

/** One field of a message: name, kind, required. */
export type FieldSpec = readonly [name: string, kind: FieldKind, required: boolean]

/** The values of {@link Role}. */
export const ROLE_VALUES: readonly Role[] = ["agent", "client", "server"]

/** The values of {@link SubmitKind}. */
export const SUBMIT_KIND_VALUES: readonly SubmitKind[] = ["pickle", "call"]

/** The values of {@link LogStream}. */
export const LOG_STREAM_VALUES: readonly LogStream[] = ["stdout", "stderr", "agent"]

/** The values of {@link CancelOnly}. */
export const CANCEL_ONLY_VALUES: readonly CancelOnly[] = ["queued"]

/** The values of {@link ErrorKind}. */
export const ERROR_KIND_VALUES: readonly ErrorKind[] = ["user", "timeout", "cancelled", "lost", "pickle", "protocol", "blob"]

/** The fields of each message type, in the order they are checked (the PROTOCOL.md table). */
export const MESSAGE_FIELDS: { readonly [T in MessageType]: readonly FieldSpec[] } = {
  hello: [
    ["protocol", "uint", true],
    ["role", ROLE_VALUES, true],
    ["token", "text", false],
    ["pid", "uint", false],
    ["slots", "uint", false],
    ["node", "uint", false],
    ["python", "text", false],
    ["maxBlobBytes", "uint", false],
    ["maxSlots", "uint", false]
  ],
  submit: [
    ["id", "uint", true],
    ["kind", SUBMIT_KIND_VALUES, true],
    ["payload", "bytes", false],
    ["fn", "text", false],
    ["args", "array", false],
    ["timeout", "float", false],
    ["blobs", "textArray", false],
    ["calls", "uint", false],
    ["call", "uint", false],
    ["callTotal", "uint", false]
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
    ["kind", ERROR_KIND_VALUES, true],
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
    ["only", CANCEL_ONLY_VALUES, false]
  ],
  heartbeat: [
    ["seq", "uint", true],
    ["time", "float", false],
    ["cpu", "float", false],
    ["memUsed", "uint", false],
    ["memTotal", "uint", false]
  ],
  log: [
    ["stream", LOG_STREAM_VALUES, true],
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
  shutdown: [
    ["reason", "text", false]
  ]
}

/** Top-level fields holding a byte string (compressed above the threshold). */
export const BYTES_FIELDS: ReadonlySet<string> = new Set(["payload", "data"])

/** Top-level fields holding an array of byte strings (each compressed above the threshold). */
export const BYTES_ARRAY_FIELDS: ReadonlySet<string> = new Set(["warnings"])
