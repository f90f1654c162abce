import { type ErrorFrame, errorTexts } from "@skyward/codec"
import { Data } from "effect"
import { formatBytes } from "./bytes.js"

/** Bad pool options, Image, Worker or plugin: found before anything starts. */
export class ConfigError extends Data.TaggedError("ConfigError")<{
  readonly field: string
  readonly message: string
}> {}

/** A provider could not create, reach or remove machines. */
export class ProviderError extends Data.TaggedError("ProviderError")<{
  readonly provider: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** Preparing a node's Python environment failed (pip's message is in `output`). */
export class BootstrapError extends Data.TaggedError("BootstrapError")<{
  readonly node: number
  readonly message: string
  readonly output: string
}> {}

/** The link to a node failed (spawn, connect, upload, agent start). */
export class TransportError extends Data.TaggedError("TransportError")<{
  readonly node: number
  readonly message: string
  readonly cause?: unknown
}> {}

/** A plugin is incompatible or its client-side set-up failed. */
export class PluginError extends Data.TaggedError("PluginError")<{
  readonly plugin: string
  readonly message: string
  readonly cause?: unknown
}> {}

/** The working directory is larger than the limit: nothing was started. */
export class WorkdirTooLarge extends Data.TaggedError("WorkdirTooLarge")<{
  /** The folder (absolute). */
  readonly root: string
  readonly bytes: number
  readonly limit: number
  /** Its largest entries at the top (folders with all they hold), largest first. */
  readonly largest: ReadonlyArray<{ readonly path: string; readonly bytes: number }>
}> {
  override get message(): string {
    const largest = this.largest.map((e) => `${e.path} (${formatBytes(e.bytes)})`).join(", ")
    const example = this.largest[0]?.path ?? "data/"
    return (
      `the working directory ${this.root} is ${formatBytes(this.bytes)}, over the limit of ${formatBytes(this.limit)}; ` +
      `its largest entries: ${largest}. Leave out what the workers do not need with a line each in ` +
      `${this.root}/.skywardignore (such as ${example}; .gitignore rules count too), choose another folder ` +
      `(--workdir DIR, pool option workdir), raise the limit (--workdir-limit SIZE, workdirLimit) or send nothing ` +
      `(--no-workdir, workdir: false)`
    )
  }
}

/** The task raised an exception on the worker; `payload` is the pickled exception when it pickles. */
export class RemoteError extends Data.TaggedError("RemoteError")<{
  readonly excType: string
  readonly message: string
  readonly traceback: string
  readonly payload?: Uint8Array
  readonly warnings?: ReadonlyArray<Uint8Array>
  readonly node?: number
  /** The agent's `error` this was made from: a bridge forwards it to its client as it was. */
  readonly frame?: ErrorFrame
}> {}

/** The task's result (or argument) could not be pickled or unpickled. */
export class SerializationError extends Data.TaggedError("SerializationError")<{
  readonly excType: string
  readonly message: string
  readonly traceback: string
  /** The agent's `error` this was made from: a bridge forwards it to its client as it was. */
  readonly frame?: ErrorFrame
}> {}

/** The task ran past its timeout and was cancelled. */
export class TaskTimeout extends Data.TaggedError("TaskTimeout")<{
  readonly seconds: number
  readonly node?: number
  /** The agent's `error`, when the agent enforced the timeout. */
  readonly frame?: ErrorFrame
}> {
  override get message(): string {
    return this.frame?.message ?? errorTexts.timeout(this.seconds)
  }
}

/** The task was cancelled before it finished. */
export class TaskCancelled extends Data.TaggedError("TaskCancelled")<{
  /** Why, e.g. "by the caller", "the pool closed". */
  readonly reason: string
  /** The agent's `error`, when the agent cancelled it on its own. */
  readonly frame?: ErrorFrame
}> {
  override get message(): string {
    return this.frame?.message ?? errorTexts.cancelled(this.reason)
  }
}

/** The task's node (or worker process) was lost on every attempt. */
export class WorkerLost extends Data.TaggedError("WorkerLost")<{
  readonly attempts: number
  /** What was lost and how often it was tried (`errorTexts.lost`). */
  readonly message: string
  readonly node?: number
}> {}

/** Why one task failed. User exceptions are never retried; lost workers are, within bounds. */
export type TaskError = RemoteError | SerializationError | TaskTimeout | TaskCancelled | WorkerLost

/** Why a pool could not open. */
export type PoolError = ConfigError | ProviderError | BootstrapError | TransportError | PluginError | WorkdirTooLarge
