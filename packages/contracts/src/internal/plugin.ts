import type { Effect, Scope } from "effect"
import type { Cluster, ClusterSpec } from "./cluster.js"
import type { PluginError } from "./errors.js"
import type { Image } from "./image.js"
import type { ClientContribution, ComputePoolShape } from "./pool.js"
import type { PythonModuleDir } from "./transport.js"

/** Python shipped by a plugin: folders put on PYTHONPATH, and worker hooks ("module:attr"). */
export interface PluginPython {
  readonly modules: ReadonlyArray<PythonModuleDir>
  /** A decorator applied to every task on the workers. */
  readonly task?: string
  /** A context manager factory entered once per worker process. */
  readonly app?: string
}

/**
 * A plugin: a plain object, all hooks optional, applied in array order.
 * `pool` in `aroundClient` is the pool being opened: plugins may submit through it.
 */
export interface Plugin {
  readonly name: string
  /** The plugin protocol version it was written for (see {@link PLUGIN_SPECIFICATION_VERSION}). */
  readonly specificationVersion?: number
  /** A semver range of `@skyward/core` versions it works with, checked when the pool opens. */
  readonly requires?: string
  /** Returns a new Image (pip packages, env, files) before bootstrap. */
  readonly image?: (image: Image, cluster: ClusterSpec) => Image
  /** Shell commands run on each node after the base environment. */
  readonly bootstrap?: (cluster: Cluster) => ReadonlyArray<string>
  readonly python?: PluginPython
  /** Scoped client-side set-up when the pool opens; its scope closes with the pool. */
  readonly aroundClient?: (
    pool: ComputePoolShape,
    cluster: Cluster
  ) => Effect.Effect<ClientContribution | void, PluginError, Scope.Scope>
}
