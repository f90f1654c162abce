/**
 * @skyward/contracts: the contracts every Skyward package is written against, and nothing else. The
 * pool's service (`ComputePoolShape`), the `Provider` and `Transport` services a provider
 * implements, the `Plugin` protocol, the `Image` and pool options (schemas), the cluster and task
 * types, the tagged errors and the pool's events.
 *
 * ```ts
 * import { Provider, Transport, type ProviderDefinition } from "@skyward/contracts"
 * ```
 * @packageDocumentation
 */
export { formatBytes } from "./internal/bytes.js"
export { DEFAULT_ARGUMENT_LIMIT, MAX_ARGUMENT_LIMIT } from "./internal/argument-limit.js"
export { CostMeter, nodesPrice, type Cluster, type ClusterSpec, type NodeInfo, type NodePrice } from "./internal/cluster.js"
export { definePlugin, isDefinedPlugin, PLUGIN_BRAND, PLUGIN_SPECIFICATION_VERSION, type DefinedPlugin } from "./internal/define-plugin.js"
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
export type { PoolEvent, PoolEventListener } from "./internal/events.js"
export {
  emptyImage,
  ImageSchema,
  imageHash,
  MirrorSchema,
  mirroredPip,
  projectName,
  withEnv,
  withPip,
  type Image,
  type ImageInput,
  type Mirror
} from "./internal/image.js"
export {
  nodeRange,
  PoolOptionsSchema,
  validatePoolOptions,
  WorkerSchema,
  type NodeCount,
  type PoolOptions,
  type PoolLogStream,
  type PoolOptionsInput,
  type Worker
} from "./internal/options.js"
export type { Plugin, PluginPython } from "./internal/plugin.js"
export type { ClientContribution, ComputePoolShape, TaskCallbacks, TaskOptions, TaskOutcome, TaskSpec } from "./internal/pool.js"
export { Provider, type AddNodeRequest, type ProviderDefinition, type ProviderPlan, type ProviderShape, type ProvisionRequest } from "./internal/provider.js"
export {
  Transport,
  uploadDestination,
  type AgentChannel,
  type AgentLaunch,
  type BootstrapPlan,
  type BootstrapResult,
  type NodeSession,
  type PythonModuleDir,
  type TransportShape,
  type WorkdirShipped
} from "./internal/transport.js"
export { s3Location, VolumeSchema, type Volume, type VolumeAccess } from "./internal/volume.js"
export { DEFAULT_WORKDIR_LIMIT, type WorkdirExclusion, type WorkdirFile, type WorkdirSnapshot } from "./internal/workdir.js"
