import { type NodeInfo, type NodeSession, Transport, TransportError, type TransportShape, uploadDestination } from "@skyward/contracts"
import { Effect, Layer } from "effect"
import { agentTmpDir, startRemoteAgent } from "./agent-channel.js"
import type { InstallMode } from "./bootstrap-options.js"
import { bootstrapNode } from "./bootstrap.js"
import { openSsh, type SshConnection } from "./connect.js"
import { exec, shellQuote } from "./exec.js"
import { resolveConnectOptions, type SshConnectOptions, type SshTarget } from "./options.js"
import { openSftp, uploadTree } from "./sftp.js"

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

/**
 * `NodeSession.upload` over SSH: the file, or the folder's files, through an SFTP session of the
 * node's connection into `workDir` (each file written to a temporary name, then renamed into place).
 */
const uploadTo = (connection: SshConnection, node: number, workDir: string, localPath: string, target: string): Effect.Effect<string, TransportError> =>
  Effect.gen(function* () {
    const destination = uploadDestination(workDir, target)
    if (destination === undefined)
      return yield* new TransportError({ node, message: `upload target ${JSON.stringify(target)} is not a relative path inside the work folder of node ${node}` })
    yield* Effect.scoped(Effect.flatMap(openSftp(connection), (sftp) => uploadTree(sftp, localPath, destination))).pipe(
      Effect.mapError((e) => new TransportError({ node, message: `cannot upload ${localPath} to node ${node} (${connection.label}): ${e.message}`, cause: e }))
    )
    return destination
  })

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
        let bootstrapped = false
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
            }).pipe(Effect.tap(() => Effect.sync(() => (bootstrapped = true)))),
          startAgent: (launch) => startRemoteAgent(connection, node.index, launch),
          upload: (localPath, target) =>
            Effect.suspend(() =>
              bootstrapped && workDir !== undefined
                ? uploadTo(connection, node.index, workDir, localPath, target)
                : Effect.fail(new TransportError({ node: node.index, message: `node ${node.index} is not bootstrapped: upload after bootstrap, which makes its work folder` }))
            )
        }
        return session
      })
  }
}

/** The SSH transport as a layer. */
export const SshTransportLayer = (options: SshTransportOptions = {}): Layer.Layer<Transport> =>
  Layer.succeed(Transport, makeSshTransport(options))
