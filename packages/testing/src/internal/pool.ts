import { spawn } from "node:child_process"
import { ComputePool, type PromisePool } from "@skyward/core"
import { prepareLocalEnvironment } from "@skyward/provider-local"
import type { PoolEvent, PoolOptionsInput } from "@skyward/contracts"
import { Effect } from "effect"
import { cwdOf, descendantsOf, findLeaks, LeakError } from "./leaks.js"

/** What `runPython` gives back. */
export interface PythonResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/** Options of `runPython`. */
export interface RunPythonOptions {
  /** `sys.argv[1:]` of the script. */
  readonly args?: ReadonlyArray<string>
  /** Extra environment variables (on top of the Image's and the plugins' client ones). */
  readonly env?: Readonly<Record<string, string>>
  readonly cwd?: string
  /** Milliseconds before the script is killed (default 120 000). */
  readonly timeoutMs?: number
}

type EventOf<T extends PoolEvent["_tag"]> = Extract<PoolEvent, { readonly _tag: T }>

/** What the body of `withTestPool` receives. */
export interface TestPoolContext {
  /** The open pool (Promise style; `pool.effect` is the Effect-style pool). */
  readonly pool: PromisePool
  /** Every pool event so far, in order (the array grows while the pool runs). */
  readonly events: ReadonlyArray<PoolEvent>
  /** The events of one kind so far. */
  readonly eventsOf: <T extends PoolEvent["_tag"]>(tag: T) => Array<EventOf<T>>
  /** Task output lines so far (`print` in a task), in arrival order. */
  readonly logs: () => string[]
  /**
   * Runs Python source the way `skyward run` runs a script: in the pool's client environment
   * (the same packages as the workers), with the Image's and the plugins' environment variables,
   * PYTHONPATH and activation imports (a joblib backend, for instance).
   */
  readonly runPython: (source: string, options?: RunPythonOptions) => Promise<PythonResult>
}

/** What `withTestPool` gives back once the pool has closed and nothing leaked. */
export interface TestPoolResult<A> {
  /** What the body returned. */
  readonly value: A
  /** Every pool event, from provisioning to the last task. */
  readonly events: ReadonlyArray<PoolEvent>
  /** Task output lines. */
  readonly logs: ReadonlyArray<string>
}

/** Settings of `withTestPool` itself (not of the pool). */
export interface TestPoolSettings {
  /** Milliseconds the agents get to exit and the folders to go after the pool closed (default 5 000). */
  readonly graceMs?: number
  /** More paths that must be gone once the pool has closed (a plugin's temporary folder, say). */
  readonly removed?: ReadonlyArray<string> | ((events: ReadonlyArray<PoolEvent>) => ReadonlyArray<string>)
  /** Set to false to skip the leak check (you then check with `findLeaks` yourself). */
  readonly checkLeaks?: boolean
}

/** The pool a test gets when it does not say otherwise: 1 node x 2 slots on the local provider. */
export const TEST_POOL_DEFAULTS = { nodes: 1, worker: { concurrency: 2 } } as const

// Imports the plugins' activation modules, then runs the source as __main__.
const PRELUDE = [
  "import importlib as _skyward_importlib, os as _skyward_os",
  "for _skyward_m in filter(None, _skyward_os.environ.pop('SKYWARD_CLIENT_IMPORTS', '').split(',')): _skyward_importlib.import_module(_skyward_m)"
].join("\n")

const runPythonIn = (pool: PromisePool) => async (source: string, options: RunPythonOptions = {}): Promise<PythonResult> => {
  const shape = pool.effect
  const environment = await Effect.runPromise(prepareLocalEnvironment(shape.image, shape.imageHash, -1, () => undefined))
  return new Promise<PythonResult>((resolve, reject) => {
    const pythonPath = [...shape.client.pythonPath, process.env.PYTHONPATH].filter(Boolean).join(":")
    const child = spawn(environment.python, ["-c", `${PRELUDE}\n${source}`, ...(options.args ?? [])], {
      cwd: options.cwd,
      env: {
        ...process.env,
        ...shape.image.env,
        ...shape.client.env,
        ...options.env,
        PYTHONPATH: pythonPath,
        SKYWARD_CLIENT_IMPORTS: shape.client.imports.join(",")
      },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 120_000)
    child.on("error", (error) => {
      clearTimeout(timer)
      reject(error)
    })
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
}

/**
 * Opens a real pool with `options` (plugins included; the local provider unless `options.provider`
 * says otherwise), runs `body`, closes the pool (also when `body` throws) and then checks that
 * nothing was left behind: no agent or slot process of this pool still running, no node work
 * folder (both checked for local pools), none of the `removed` paths. Rejects with the body's
 * error, the pool's error (a `PluginError` when a plugin's hook fails), or a `LeakError`. The pool
 * logs nothing unless `options.log` says so (the body gets its events).
 *
 * ```ts
 * const { value, events } = await withTestPool({ plugins: [myPlugin()] }, ({ pool }) => pool.map("math:sqrt", [4]))
 * ```
 */
export const withTestPool = async <A>(
  options: PoolOptionsInput,
  body: (context: TestPoolContext) => Promise<A>,
  settings: TestPoolSettings = {}
): Promise<TestPoolResult<A>> => {
  const events: PoolEvent[] = []
  const logs: string[] = []
  const agents = new Set<number>()
  const watchedPids = new Set<number>()
  const workDirs = new Set<string>()
  const listener = (event: PoolEvent) => {
    events.push(event)
    if (event._tag === "Log") logs.push(event.line)
    if (event._tag === "NodeReady") {
      agents.add(event.pid)
      watchedPids.add(event.pid)
      const dir = cwdOf(event.pid)
      if (dir !== undefined) workDirs.add(dir)
    }
  }
  // the agents' slot processes and helpers exist only while the pool is open: note them before it closes
  const noteChildren = () => descendantsOf([...agents]).forEach((pid) => watchedPids.add(pid))
  const eventsOf = <T extends PoolEvent["_tag"]>(tag: T) => events.filter((e): e is EventOf<T> => e._tag === tag)
  const merged: PoolOptionsInput = {
    ...options,
    nodes: options.nodes ?? TEST_POOL_DEFAULTS.nodes,
    // a test reads the events it gets; a test run's output stays its own unless the test asks
    log: options.log ?? false,
    worker: { concurrency: TEST_POOL_DEFAULTS.worker.concurrency, ...options.worker }
  }

  let outcome: { ok: true; value: A } | { ok: false; error: unknown }
  try {
    const value = await ComputePool.use(
      merged,
      async (pool) => {
        try {
          return await body({ pool, events, eventsOf, logs: () => [...logs], runPython: runPythonIn(pool) })
        } finally {
          noteChildren()
        }
      },
      listener
    )
    outcome = { ok: true, value }
  } catch (error) {
    outcome = { ok: false, error }
  }

  if (settings.checkLeaks !== false) {
    const removed = typeof settings.removed === "function" ? settings.removed(events) : settings.removed ?? []
    // agents' pids and folders are this machine's only with the local provider
    const local = options.provider === undefined || options.provider.name === "local"
    const leaks = await findLeaks(
      { pids: local ? watchedPids : [], paths: [...(local ? workDirs : []), ...removed] },
      settings.graceMs
    )
    if (leaks.processes.length > 0 || leaks.paths.length > 0) {
      if (!outcome.ok) throw outcome.error
      throw new LeakError(leaks)
    }
  }
  if (!outcome.ok) throw outcome.error
  return { value: outcome.value, events, logs }
}
