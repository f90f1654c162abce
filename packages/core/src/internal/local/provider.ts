import os from "node:os"
import { Effect, Layer } from "effect"
import { Provider, type ProviderDefinition } from "../provider.js"
import { LocalTransportLayer } from "./transport.js"

/** Options of the local provider. */
export interface LocalOptions {
  /** Reserved for future use (e.g. CPU pinning); nodes come from the pool's `nodes`. */
  readonly name?: string
}

const LocalProviderLayer = Layer.succeed(Provider, {
  name: "local",
  prepare: () => Effect.void,
  provision: ({ spec }) =>
    Effect.sync(() => {
      const machine = os.availableParallelism()
      return {
        id: spec.id,
        provider: "local",
        nodes: Array.from({ length: spec.nodes }, (_, index) => ({
          index,
          address: "localhost",
          slots: spec.concurrency ?? machine,
          // the nodes share this machine: BLAS threads of every slot of every node add up to its CPUs
          cpus: Math.max(1, Math.floor(machine / spec.nodes)),
          data: { cpus: machine } // the whole machine's CPUs (unchanged); `cpus` above is this node's share
        }))
      }
    })
})

/** The embedded default provider: N nodes as N agent processes on this machine. */
export const local = (_options: LocalOptions = {}): ProviderDefinition => ({
  name: "local",
  layer: Layer.merge(LocalProviderLayer, LocalTransportLayer)
})
