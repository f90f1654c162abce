import path from "node:path"
import { Context, type Effect, type Scope } from "effect"
import type { BootstrapError, TransportError } from "./errors.js"
import type { Image } from "./image.js"
import type { NodeInfo } from "./cluster.js"
import type { WorkdirSnapshot } from "./workdir.js"

/** A Python package of the client's, put on every node's PYTHONPATH. */
export interface PythonModuleDir {
  /** The package: a folder of that name in `path`. It alone travels to remote nodes (tests beside it stay). */
  readonly name: string
  /** Absolute path of the folder on the client that holds the package (what goes on PYTHONPATH). */
  readonly path: string
}

/** What a node needs before its agent can start. */
export interface BootstrapPlan {
  readonly image: Image
  /** `imageHash(image)`: the cache key of the environment. */
  readonly imageHash: string
  /** Shell commands from plugins, run after the environment exists, with its bin/ first on PATH. */
  readonly ops: ReadonlyArray<string>
  /** Agent, codec and plugin Python folders. */
  readonly modules: ReadonlyArray<PythonModuleDir>
  /**
   * The working directory that travels: its files make the node's work folder (the agent's current
   * directory), the Image's `files` land on top. Files are sent by content, each to a node once.
   */
  readonly workdir?: WorkdirSnapshot
}

/** What shipping the working directory to a node took. */
export interface WorkdirShipped {
  /** Files and bytes of the working directory. */
  readonly files: number
  readonly bytes: number
  /** Of those, what crossed to the node (it already had the rest). */
  readonly sentFiles: number
  readonly sentBytes: number
}

/** Where the environment ended up on the node. */
export interface BootstrapResult {
  /** The interpreter to start the agent with. */
  readonly python: string
  /** PYTHONPATH entries on the node for the plan's modules. */
  readonly pythonPath: ReadonlyArray<string>
  /** Working directory for the agent (holds the Image's files). */
  readonly workDir: string
  /** True when the environment already existed. */
  readonly cached: boolean
  /** The working directory, when the plan had one. */
  readonly workdir?: WorkdirShipped
  /** How the node differs from the client (another Python patch version, a mirrored package it lacks), one line each. */
  readonly notes?: ReadonlyArray<string>
}

/** How to start the agent on a node. */
export interface AgentLaunch {
  readonly python: string
  readonly pythonPath: ReadonlyArray<string>
  readonly workDir: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
}

/** A running agent: a duplex byte stream that carries codec frames, plus its end. */
export interface AgentChannel {
  /** Writes bytes to the agent's input; false when the channel is closed. */
  readonly write: (bytes: Uint8Array) => boolean
  /** Registers the consumer of the agent's output bytes (one consumer). */
  readonly onData: (listener: (chunk: Uint8Array) => void) => void
  /** Registers a consumer of the agent's diagnostic lines (stderr). */
  readonly onDiagnostic: (listener: (line: string) => void) => void
  /** Called once when the channel ends (agent exit, connection drop), with the reason. */
  readonly onClose: (listener: (reason: string) => void) => void
}

/** A connection to one node, held for the pool's lifetime: environment, files, agent. */
export interface NodeSession {
  readonly node: NodeInfo
  /** Makes (or reuses) the node's environment; `onLine` receives pip's and the ops' output. */
  readonly bootstrap: (plan: BootstrapPlan, onLine: (line: string) => void) => Effect.Effect<BootstrapResult, BootstrapError>
  /** Starts the agent; closing the scope stops it (input closed, then killed after a grace period). */
  readonly startAgent: (launch: AgentLaunch) => Effect.Effect<AgentChannel, TransportError, Scope.Scope>
  /**
   * Copies a file or folder of the client (`localPath`) into the node's work folder, at `target`:
   * a relative path such as `"data/train.csv"`, whose parent folders are made. A file replaces
   * what is there; a folder's files are copied into it, sub-folders included. Gives back where it
   * landed on the node (absolute). `bootstrap` makes the work folder (and ships the Image's
   * `files` this way), so call it after `bootstrap`: before, and for a `target` that is absolute
   * or leaves the work folder (`../x`), or a `localPath` that cannot be read, it fails with a
   * `TransportError` and copies nothing. The work folder, with what was uploaded, goes with the session.
   */
  readonly upload: (localPath: string, target: string) => Effect.Effect<string, TransportError>
}

/**
 * Where an upload `target` lands in `workDir` (POSIX paths, as on every node), or `undefined` when
 * it is empty, absolute or leaves the folder. The one rule of every transport's `upload`.
 */
export const uploadDestination = (workDir: string, target: string): string | undefined => {
  if (target === "" || path.posix.isAbsolute(target)) return undefined
  const destination = path.posix.join(workDir, target).replace(/\/+$/, "")
  return destination.startsWith(workDir.replace(/\/+$/, "") + "/") ? destination : undefined
}

/** Service: how the pool reaches its nodes (a local subprocess, SSH, ...). */
export interface TransportShape {
  readonly name: string
  /** Opens a session to `node`; closing the scope disconnects and removes temporary files. */
  readonly connect: (node: NodeInfo) => Effect.Effect<NodeSession, TransportError, Scope.Scope>
}

/** The Transport service tag. */
export class Transport extends Context.Tag("@skyward/contracts/Transport")<Transport, TransportShape>() {}
