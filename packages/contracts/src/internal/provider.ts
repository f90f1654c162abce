import { Context, type Effect, type Layer, type Scope } from "effect"
import type { Cluster, ClusterSpec, NodeInfo, NodePrice } from "./cluster.js"
import type { ConfigError, ProviderError } from "./errors.js"
import type { Image } from "./image.js"
import type { Transport } from "./transport.js"

/** What the pool asks a provider for. */
export interface ProvisionRequest {
  readonly spec: ClusterSpec
  readonly image: Image
}

/** What an open pool asks a provider for when it adds a node (an elastic pool growing, a lost node replaced). */
export interface AddNodeRequest extends ProvisionRequest {
  /** The new node's index: one no node of the pool had before. */
  readonly index: number
  /** The pool's nodes now (an SSH host they use is not free). */
  readonly nodes: ReadonlyArray<NodeInfo>
}

/** Service: where machines come from. */
export interface ProviderShape {
  readonly name: string
  /** Client-side checks and set-up before any machine exists (credentials, key pairs, caches). */
  readonly prepare: (request: ProvisionRequest) => Effect.Effect<void, ProviderError | ConfigError, Scope.Scope>
  /** Creates the nodes; closing the scope terminates them. */
  readonly provision: (request: ProvisionRequest) => Effect.Effect<Cluster, ProviderError, Scope.Scope>
  /**
   * Adds one node to the pool `provision` made; closing the scope ends that node (and its machine)
   * alone. Optional: without it, the provider serves pools of a fixed node count.
   */
  readonly addNode?: (request: AddNodeRequest) => Effect.Effect<NodeInfo, ProviderError, Scope.Scope>
}

/** The Provider service tag. */
export class Provider extends Context.Tag("@skyward/contracts/Provider")<Provider, ProviderShape>() {}

/**
 * A provider as users pass it in pool options (`provider: local()`): a name and the layer that
 * builds its `Provider` and the `Transport` that reaches its machines.
 */
export interface ProviderDefinition {
  readonly name: string
  readonly layer: Layer.Layer<Provider | Transport, ProviderError | ConfigError>
  /** What a pool of `nodes` would be, found without creating anything (`skyward run --dry-run`); optional. */
  readonly plan?: (nodes: number) => Effect.Effect<ProviderPlan, ProviderError | ConfigError>
}

/** A provider's plan for a pool: its machines and what they cost. */
export interface ProviderPlan {
  /** Where and what, for people: `c7g.xlarge (4 vCPUs, 8 GiB), spot-if-available, us-east-1`. */
  readonly machine: string
  /** What one node costs per hour, when known. */
  readonly price?: NodePrice
}
