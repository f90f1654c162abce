/** What happened in a pool, in order; the CLI renders these. */
export type PoolEvent =
  | { readonly _tag: "NodeProvisioned"; readonly node: number; readonly address: string }
  | { readonly _tag: "NodeBootstrapping"; readonly node: number; readonly line: string }
  | { readonly _tag: "NodeBootstrapped"; readonly node: number; readonly cached: boolean; readonly seconds: number }
  | {
      readonly _tag: "WorkdirShipped"
      readonly node: number
      readonly files: number
      readonly bytes: number
      readonly sentFiles: number
      readonly sentBytes: number
    }
  /** How the pool's environment differs from the client's (`node` when one node's does). */
  | { readonly _tag: "EnvironmentNote"; readonly node?: number; readonly message: string }
  | { readonly _tag: "NodeReady"; readonly node: number; readonly slots: number; readonly pid: number }
  | { readonly _tag: "NodeLost"; readonly node: number; readonly reason: string; readonly inFlight: ReadonlyArray<number> }
  /**
   * An elastic pool's decision and why: `up` adds the nodes `nodes` (their new indices) because tasks
   * wait, `replace` adds them for lost nodes (to keep `min`), `down` removes the idle nodes `nodes`
   * (they had no task, so none is lost or run twice). `live`: the nodes the pool has, or is getting, after it.
   */
  | {
      readonly _tag: "PoolScaled"
      readonly direction: "up" | "down" | "replace"
      readonly nodes: ReadonlyArray<number>
      readonly live: number
      readonly reason: string
    }
  /** A node an elastic pool was adding did not come up; the pool tries again later. */
  | { readonly _tag: "NodeAddFailed"; readonly node: number; readonly reason: string }
  /**
   * The load of a node's machine (the whole machine, not only the pool's work), as its agent reads it
   * for each heartbeat: about once a second, on Linux. `cpu`: the fraction of CPU time the machine
   * spent busy since the agent's previous heartbeat, 0 to 1. `memUsed`: bytes of memory in use (the
   * total less what is available); `memTotal`: bytes of memory. A figure the agent could not read is
   * absent (`cpu` on its first heartbeat); a heartbeat with none of them makes no event.
   */
  | { readonly _tag: "NodeStats"; readonly node: number; readonly cpu?: number; readonly memUsed?: number; readonly memTotal?: number }
  /**
   * `calls`: how many of the client's calls the task runs (a joblib batch's size) when the client said;
   * 1 when absent. `call`: the client's joblib call it belongs to, and `callTotal` that call's size, when known.
   * `client`: who submitted it (a script or notebook on a shared pool), when it said.
   */
  | {
      readonly _tag: "TaskQueued"
      readonly task: number
      readonly calls?: number
      readonly call?: number
      readonly callTotal?: number
      readonly client?: string | number
    }
  | { readonly _tag: "TaskStarted"; readonly task: number; readonly node: number; readonly slot: number }
  | { readonly _tag: "TaskDone"; readonly task: number; readonly node: number; readonly seconds: number }
  /**
   * `cancelled`: the task was cancelled (by its caller, or as its pool closed), not failed by its own doing.
   * `traceback`: the remote traceback, when the task raised.
   */
  | { readonly _tag: "TaskFailed"; readonly task: number; readonly node?: number; readonly error: string; readonly traceback?: string; readonly cancelled?: boolean }
  | { readonly _tag: "TaskRetried"; readonly task: number; readonly fromNode: number; readonly attempt: number }
  | { readonly _tag: "BlobSent"; readonly node: number; readonly hash: string; readonly bytes: number }
  /**
   * A line a task (or the agent: stream "agent") wrote. `forwarded`: whoever submitted the task shows
   * its output itself (the joblib bridge hands it to the client script), so a pool's log leaves it out.
   */
  | {
      readonly _tag: "Log"
      readonly node: number
      readonly stream: string
      readonly line: string
      readonly task?: number
      readonly forwarded?: boolean
    }

/** A synchronous event listener; returns nothing, must not throw. */
export type PoolEventListener = (event: PoolEvent) => void
