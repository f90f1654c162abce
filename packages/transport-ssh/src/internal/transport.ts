import { Transport, TransportError, type NodeInfo, type NodeSession, type TransportShape } from "@skyward/core"
import { Effect, Layer } from "effect"
import { agentTmpDir, startRemoteAgent } from "./agent-channel.js"
import { bootstrapNode, type InstallMode } from "./bootstrap.js"
import { openSsh } from "./connect.js"
import { exec, shellQuote } from "./exec.js"
import { resolveConnectOptions, type SshConnectOptions, type SshTarget } from "./options.js"

/** Options of the SSH transport. */
export interface SshTransportOptions extends SshConnectOptions {
  /**
   * How nodes get their packages: "wheelhouse" (default) ships wheels from the client, built once
   * per Image and platform, so nodes need no internet; "index" lets each node run pip against the
   * Image's indexes.
   */
  readonly install?: InstallMode
  /** Skyward's folder on each host; relative paths are under the login's home. Default `.cache/skyward`. */
  readonly remoteRoot?: string
  /** How to reach a node. Default: `node.data.ssh` (an `SshTarget`), else `{ host: node.address }`. */
  readonly targetOf?: (node: NodeInfo) => SshTarget
}

/** The SSH target a provider stored on a node (`node.data.ssh`), or its address. */
export const defaultTargetOf = (node: NodeInfo): SshTarget => {
  const stored = node.data.ssh as SshTarget | undefined
  return stored && typeof stored.host === "string" ? stored : { host: node.address }
}

/** Builds the SSH `Transport` service: one connection per node, held for the pool's lifetime. */
export const makeSshTransport = (options: SshTransportOptions = {}): TransportShape => {
  const connectOptions = resolveConnectOptions(options)
  const bootstrapOptions = { install: options.install ?? "wheelhouse", remoteRoot: options.remoteRoot ?? ".cache/skyward" }
  const targetOf = options.targetOf ?? defaultTargetOf
  return {
    name: "ssh",
    connect: (node) =>
      Effect.gen(function* () {
        const connection = yield* openSsh(targetOf(node), connectOptions).pipe(
          Effect.mapError((e) => new TransportError({ node: node.index, message: `node ${node.index}: ${e.message}`, cause: e }))
        )
        let workDir: string | undefined
        yield* Effect.addFinalizer(() =>
          workDir === undefined || connection.closedReason() !== undefined
            ? Effect.void
            : exec(connection, `rm -rf ${shellQuote(workDir)} ${shellQuote(agentTmpDir(workDir))}`).pipe(Effect.timeout(10_000), Effect.ignore)
        )
        const session: NodeSession = {
          node,
          bootstrap: (plan, onLine) =>
            bootstrapNode(connection, node, plan, bootstrapOptions, onLine, (dir) => {
              workDir = dir
            }),
          startAgent: (launch) => startRemoteAgent(connection, node.index, launch)
        }
        return session
      })
  }
}

/** The SSH transport as a layer. */
export const SshTransportLayer = (options: SshTransportOptions = {}): Layer.Layer<Transport> =>
  Layer.succeed(Transport, makeSshTransport(options))
