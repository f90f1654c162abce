import type { Effect, Stream } from "effect"
import type { Cluster } from "./cluster.js"
import type { TaskError } from "./errors.js"
import type { PoolEvent, PoolEventListener } from "./events.js"
import type { Image } from "./image.js"
import type { WorkdirSnapshot } from "./workdir.js"

/** One unit of work as the scheduler sees it. */
export interface TaskSpec {
  readonly kind: "pickle" | "call"
  /** kind "pickle": cloudpickle bytes of a zero-argument callable, forwarded untouched. */
  readonly payload?: Uint8Array
  /** kind "call": "module:function" importable on the node. */
  readonly fn?: string
  /** kind "call": CBOR-encodable positional arguments. */
  readonly args?: ReadonlyArray<unknown>
  /** Seconds before the task is cancelled; overrides the pool's timeout. */
  readonly timeout?: number
  /** Content hashes of the blobs (large pickle buffers) the payload refers to. */
  readonly blobs?: ReadonlyArray<string>
  /** How many of the client's calls the task runs (a joblib batch's size), for progress; 1 when absent. */
  readonly calls?: number
  /** Which of the client's joblib calls (numbered from 1) the task belongs to, for progress. */
  readonly call?: number
  /** How many calls that joblib call runs in all, when the client knows. */
  readonly callTotal?: number
  /**
   * Who submitted the task (a script, a notebook: one bridge connection). Tasks of different
   * clients share the slots fairly; absent = one anonymous client.
   */
  readonly client?: string | number
}

/** What a finished task gives back. */
export interface TaskOutcome {
  readonly payload?: Uint8Array
  readonly value?: unknown
  readonly warnings?: ReadonlyArray<Uint8Array>
  readonly node: number
  readonly slot: number
  readonly duration: number
}

/** How the scheduler reports back about one task. Exactly one of onDone / onFailed is called, once. */
export interface TaskCallbacks {
  readonly onDone: (outcome: TaskOutcome) => void
  readonly onFailed: (error: TaskError) => void
  readonly onStarted?: (node: number, slot: number) => void
  readonly onLog?: (node: number, stream: string, line: string) => void
}

/** What a plugin adds to the client script's world when the pool opens. */
export interface ClientContribution {
  /** Environment variables for the client Python process (`skyward run` passes them on). */
  readonly env?: Readonly<Record<string, string>>
  /** Python folders the client process needs on PYTHONPATH. */
  readonly pythonPath?: ReadonlyArray<string>
  /** Python modules the client imports before the user's script (e.g. to make a joblib backend the default). */
  readonly imports?: ReadonlyArray<string>
  /** How many client processes are attached now (the joblib bridge's connections), for `skyward ls`. */
  readonly attached?: () => number
}

/** Per-call options of `submit` and `map`. */
export interface TaskOptions {
  /** Seconds before the task is cancelled (overrides the pool's `timeout`). */
  readonly timeout?: number
}

/** An open pool: its machines, its slots, and the ways to run work on them. */
export interface ComputePoolShape {
  readonly cluster: Cluster
  /** Slots of the nodes alive now: what joblib's `n_jobs=-1` resolves to. */
  readonly totalSlots: number
  /**
   * Bytes the client sent to its nodes and received from them so far: tasks and their answers, the
   * working directory and folder volumes copied to remote nodes. What nodes fetch themselves (S3
   * volumes, pip packages) is not among them.
   */
  readonly traffic: { readonly sentBytes: number; readonly receivedBytes: number }
  /** An elastic pool's fewest and most nodes (`nodes: { min, max }`); undefined for a fixed count. */
  readonly elastic: { readonly min: number; readonly max: number } | undefined
  /** The Image every node runs (after plugins), and its hash. */
  readonly image: Image
  readonly imageHash: string
  /** The working directory every node got, when the pool sends one. */
  readonly workdir: WorkdirSnapshot | undefined
  /** Folders first on the workers' `sys.path` (the pool option `sysPath`). */
  readonly sysPath: ReadonlyArray<string>
  /** Bytes of blobs one task may refer to (the pool option `argumentLimit`); every agent keeps this much. */
  readonly argumentLimit: number
  /** What plugins export to a client process (environment variables, PYTHONPATH). */
  readonly client: Required<ClientContribution>
  /** Runs one pickled zero-argument callable; gives back the pickled result, untouched. */
  readonly submit: (payload: Uint8Array, options?: TaskOptions) => Effect.Effect<TaskOutcome, TaskError>
  /**
   * Calls `fn` ("module:function" on the workers) once with `args` as its positional arguments
   * (CBOR: numbers, strings, booleans, null, arrays, plain objects, bytes), and gives back its
   * result decoded from CBOR. A Python exception fails it with a `RemoteError` (its type, message and
   * the remote traceback).
   */
  readonly call: <A = unknown>(fn: string, args?: ReadonlyArray<unknown>, options?: TaskOptions) => Effect.Effect<A, TaskError>
  /** Calls `fn` ("module:function" on the workers) on every input; results in input order. */
  readonly map: <A = unknown>(fn: string, inputs: Iterable<unknown>, options?: TaskOptions) => Effect.Effect<A[], TaskError>
  /**
   * Low level, callback style (what bridges use): queues a task, returns its id. The blobs its
   * `spec.blobs` names must have been given to `putBlob`; they are kept until the task ends.
   */
  readonly dispatch: (spec: TaskSpec, callbacks: TaskCallbacks) => number
  /**
   * Keeps a blob (a large pickle buffer, by its content hash) for tasks to refer to. The caller
   * checks that `data` hashes (SHA-256) to `hash` (the joblib bridge does, as the chunks arrive):
   * a blob already held under `hash` is kept as it is.
   */
  readonly putBlob: (hash: string, data: Uint8Array) => void
  /** The hashes of `hashes` the pool does not hold (never given, or dropped to stay in budget). */
  readonly missingBlobs: (hashes: ReadonlyArray<string>) => string[]
  /** Cancels a task given by `dispatch`. */
  readonly cancel: (id: number) => void
  /** Every event from now on. */
  readonly events: Stream.Stream<PoolEvent>
  /** Synchronous listener for events; returns the function that detaches it. */
  readonly subscribe: (listener: PoolEventListener) => () => void
}
