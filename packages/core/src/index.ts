/**
 * @skyward/core: provision a pool of machines, bootstrap Python on them, run Python work there.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * await ComputePool.use({ nodes: 2, worker: { concurrency: 2 } }, (pool) => pool.map("math:sqrt", [1, 4, 9]))
 * ```
 * @packageDocumentation
 */
export { formatBytes } from "./internal/bytes.js"
export type { Cluster, ClusterSpec, NodeInfo } from "./internal/cluster.js"
export { ComputePool, type PromisePool } from "./internal/compute-pool.js"
export {
  BootstrapError,
  ConfigError,
  PluginError,
  ProviderError,
  RemoteError,
  SerializationError,
  TaskCancelled,
  TaskTimeout,
  TransportError,
  WorkdirTooLarge,
  WorkerLost,
  type PoolError,
  type TaskError
} from "./internal/errors.js"
export {
  checkPluginCompatibility,
  CORE_VERSION,
  definePlugin,
  isDefinedPlugin,
  PLUGIN_BRAND,
  PLUGIN_SPECIFICATION_VERSION,
  type DefinedPlugin
} from "./internal/define-plugin.js"
export { EventHub, type PoolEvent, type PoolEventListener } from "./internal/events.js"
export {
  emptyImage,
  ImageSchema,
  imageHash,
  installRequirements,
  MirrorSchema,
  mirroredPip,
  projectName,
  withEnv,
  withPip,
  type Image,
  type ImageInput,
  type Mirror
} from "./internal/image.js"
export { cacheRoot } from "./internal/local/cache.js"
export { ensureLocalEnvironment, pipInstallArgs, prepareLocalEnvironment, type LocalEnvironment } from "./internal/local/environment.js"
export { local, type LocalOptions } from "./internal/local/provider.js"
export { findLocalPython, pythonAt, type LocalPython } from "./internal/local/python.js"
export { mirrorEnvironment, type EnvironmentMirror } from "./internal/mirror/mirror.js"
export { droppedNote, runDroppingUnavailable, unavailableProject, type MirroredInstall, type PipAttempt } from "./internal/mirror/unavailable.js"
export { runCommand, type CommandResult } from "./internal/local/shell.js"
export { ownedTempDir } from "./internal/local/temp-dir.js"
export {
  PoolOptionsSchema,
  validatePoolOptions,
  WorkerSchema,
  type PoolOptions,
  type PoolOptionsInput,
  type Worker
} from "./internal/options.js"
export type { ClientContribution, Plugin, PluginPython } from "./internal/plugin.js"
export { makeComputePool, type ComputePoolShape, type TaskOptions } from "./internal/pool.js"
export { Provider, type ProviderDefinition, type ProviderShape, type ProvisionRequest } from "./internal/provider.js"
export { AGENT_REQUIREMENTS, agentModules, codecModules, type PythonModuleDir } from "./internal/python-modules.js"
export type { AgentFailure, TaskCallbacks, TaskOutcome, TaskSpec } from "./internal/scheduler.js"
export { Scheduler, type NodeLink, type SchedulerOptions } from "./internal/scheduler.js"
export {
  Transport,
  type AgentChannel,
  type AgentLaunch,
  type BootstrapPlan,
  type BootstrapResult,
  type NodeSession,
  type TransportShape,
  type WorkdirShipped,
  uploadDestination
} from "./internal/transport.js"
export { DEFAULT_WORKDIR_LIMIT, sha256File, snapshotWorkdir, type WorkdirFile, type WorkdirSnapshot } from "./internal/workdir/snapshot.js"
export type { WorkdirExclusion } from "./internal/workdir/walk.js"
