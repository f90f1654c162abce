import os from "node:os"
import { Effect, Layer } from "effect"
import { Provider, type ClusterSpec, type NodeInfo, type ProviderDefinition } from "@skyward/contracts"
import { localTransportLayer } from "./transport.js"

/** Options of the local provider (nodes come from the pool's `nodes`). */
export interface LocalOptions {
  /**
   * The interpreter (a path) the nodes' environments are made from; it must be of the Image's
   * `python` version. Default: the Image's `python` found on PATH (or `$SKYWARD_PYTHON`).
   */
  readonly python?: string
}

const localNode = (spec: ClusterSpec, index: number): NodeInfo => {
  const machine = os.availableParallelism()
  return {
    index,
    address: "localhost",
    // the nodes share this machine: BLAS threads of every slot of every node (as many as the pool
    // may have) add up to its CPUs
    cpus: Math.max(1, Math.floor(machine / spec.maxNodes)),
    data: { cpus: machine } // the whole machine's CPUs (unchanged); `cpus` above is this node's share
  }
}

const LocalProviderLayer = Layer.succeed(Provider, {
  name: "local",
  prepare: () => Effect.void,
  provision: ({ spec }) =>
    Effect.sync(() => ({ id: spec.id, provider: "local", nodes: Array.from({ length: spec.nodes }, (_, index) => localNode(spec, index)) })),
  // a node is its agent's processes, which the transport starts and ends
  addNode: ({ spec, index }) => Effect.sync(() => localNode(spec, index))
})

/** The embedded default provider: N nodes as N agent processes on this machine. */
export const local = (options: LocalOptions = {}): ProviderDefinition => ({
  name: "local",
  layer: Layer.merge(LocalProviderLayer, localTransportLayer(options.python))
})
