import { fileURLToPath } from "node:url"
import { codecModules } from "@skyward/codec"
import { type ClientContribution, type ComputePoolShape, type Image, type Plugin, PluginError, withPip } from "@skyward/contracts"
import { Effect, type Scope } from "effect"
import { startBridge } from "./bridge-server.js"
import { WORKDIR_REPORT_ENV, writeWorkdirReport } from "./workdir-report.js"

/** Options of the `joblib()` plugin. */
export interface JoblibOptions {
  /** A joblib version to pin on the workers (e.g. "1.5.2"); the latest when omitted. */
  readonly version?: string
}

/** The folder holding the `skyward_joblib` Python package (shipped in this npm package). */
export const joblibPythonDir: string = fileURLToPath(new URL("../../python", import.meta.url))

/** The requirement string for `name`, pinned to `version` when given. */
export const requirement = (name: string, version: string | undefined): string =>
  version === undefined || version.trim() === "" ? name : `${name}==${version.trim()}`

/** Adds joblib (pinned if asked) and cloudpickle to an Image. */
export const joblibImage = (image: Image, options: JoblibOptions = {}): Image =>
  withPip(image, requirement("joblib", options.version), "cloudpickle")

/**
 * One bridge per pool, whichever plugins ask for it: `joblib()` and `sklearn()` in the same pool
 * share the first one started. The plugin that started it owns it; its scope closes last (plugin
 * scopes close in reverse order), so the others never outlive it.
 */
const bridges = new WeakMap<object, ClientContribution>()

/** The module the client process imports before the user's script: makes "skyward" joblib's default backend. */
export const ACTIVATE_MODULE = "skyward_joblib.activate"

/**
 * The joblib plugin's client set-up: starts the bridge for `pool` and exports its socket, token,
 * PYTHONPATH and the activation import. If another joblib-based plugin already started a bridge
 * for this pool, contributes nothing (that plugin's contribution already holds all of it).
 */
export const joblibClient = (
  pool: ComputePoolShape,
  plugin = "joblib"
): Effect.Effect<ClientContribution, PluginError, Scope.Scope> =>
  Effect.gen(function* () {
    // already contributed by the plugin that started it: nothing to add twice
    if (bridges.has(pool)) return {}
    const bridge = yield* startBridge(pool, { argumentLimit: pool.argumentLimit }).pipe(
      Effect.mapError((error) => new PluginError({ plugin, message: error.message, cause: error }))
    )
    const report = yield* writeWorkdirReport(pool, bridge.directory).pipe(
      Effect.mapError((cause) => new PluginError({ plugin, message: `cannot write the working directory's report: ${cause.message}`, cause }))
    )
    const contribution: ClientContribution = {
      env: { ...bridge.env, [WORKDIR_REPORT_ENV]: report },
      pythonPath: [joblibPythonDir, codecModules().path],
      imports: [ACTIVATE_MODULE],
      attached: () => bridge.connections
    }
    yield* Effect.acquireRelease(
      Effect.sync(() => bridges.set(pool, contribution)),
      () => Effect.sync(() => bridges.delete(pool))
    )
    return contribution
  })

/**
 * The joblib plugin: joblib and cloudpickle on every node, the `skyward_joblib` backend on
 * PYTHONPATH, and the client bridge the backend talks to while the pool is open.
 */
export const joblib = (options: JoblibOptions = {}): Plugin => ({
  name: "joblib",
  image: (image) => joblibImage(image, options),
  python: { modules: [{ name: "skyward_joblib", path: joblibPythonDir }] },
  aroundClient: (pool) => joblibClient(pool, "joblib")
})
