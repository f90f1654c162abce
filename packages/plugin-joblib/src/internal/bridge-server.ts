import { randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { DEFAULT_ARGUMENT_LIMIT } from "@skyward/contracts"
import { ownedTempDir } from "@skyward/host"
import { Effect, type Scope } from "effect"
import { BridgeConnection, type BridgePool } from "./bridge-connection.js"
import { BridgeError } from "./errors.js"

/** Options of {@link startBridge}. */
export interface BridgeOptions {
  /** Where refused connections and similar incidents are reported (default: stderr). */
  readonly log?: (line: string) => void
  /** Parent of the private socket directory (default: the OS temporary directory). */
  readonly tmpdir?: string
  /** How long a new connection may take to say hello (default 30 s). */
  readonly helloTimeoutMs?: number
  /** The most blob bytes one task may refer to: the pool's `argumentLimit` (default 1 GiB). Told to every client; a larger blob is refused. */
  readonly argumentLimit?: number
}

/** A running client bridge. */
export interface Bridge {
  /** The private (0700) directory holding the socket; removed when the bridge closes. */
  readonly directory: string
  /** The Unix socket clients connect to. */
  readonly socketPath: string
  /** The secret a client must present in its `hello`. */
  readonly token: string
  /** What a client process needs in its environment. */
  readonly env: { readonly SKYWARD_BRIDGE: string; readonly SKYWARD_TOKEN: string }
  /** Connections open now (authenticated or not). */
  readonly connections: number
}

const defaultLog = (line: string): void => {
  process.stderr.write(`[skyward joblib bridge] ${line}\n`)
}

interface Running {
  readonly directory: string
  readonly server: net.Server
  readonly connections: Set<BridgeConnection>
  readonly unsubscribe: () => void
}

/** The bridge's private (0700) directory; one left by a Node that was killed is removed by the next bridge. */
const makeDirectory = (parent: string) =>
  ownedTempDir("skyward-bridge", parent).pipe(
    Effect.mapError((cause) => new BridgeError({ message: `could not create the bridge directory in ${parent}`, cause }))
  )

const listen = (server: net.Server, socketPath: string) =>
  Effect.async<void, BridgeError>((resume) => {
    const onError = (cause: Error) =>
      resume(Effect.fail(new BridgeError({ message: `could not listen on ${socketPath}: ${cause.message}`, cause })))
    server.once("error", onError)
    server.listen(socketPath, () => {
      server.off("error", onError)
      resume(Effect.void)
    })
  })

const shutdown = (running: Running) =>
  Effect.promise(async () => {
    running.unsubscribe()
    for (const connection of [...running.connections]) connection.close()
    await new Promise<void>((resolve) => running.server.close(() => resolve()))
  })

/**
 * Starts the client bridge of `pool` in the current scope: a Unix socket `bridge.sock` in a fresh
 * private (0700) directory, and a random token. Clients (the `skyward_joblib` backend) connect,
 * say `hello` with the token, then submit pickled tasks that run on the pool. Closing the scope
 * closes the server and every connection (cancelling their tasks) and removes the directory.
 */
export const startBridge = (pool: BridgePool, options: BridgeOptions = {}): Effect.Effect<Bridge, BridgeError, Scope.Scope> =>
  Effect.gen(function* () {
    const log = options.log ?? defaultLog
    const token = randomBytes(32).toString("hex")
    const directory = yield* makeDirectory(options.tmpdir ?? os.tmpdir())
    const running = yield* Effect.acquireRelease(
      Effect.gen(function* () {
        const socketPath = path.join(directory, "bridge.sock")
        const connections = new Set<BridgeConnection>()
        const server = net.createServer((socket) => {
          const connection = new BridgeConnection(socket, pool, {
            token,
            helloTimeoutMs: options.helloTimeoutMs ?? 30_000,
            maxBlobBytes: options.argumentLimit ?? DEFAULT_ARGUMENT_LIMIT,
            log,
            onClose: (c) => connections.delete(c)
          })
          connections.add(connection)
        })
        server.on("error", (error) => log(`server error: ${error.message}`))
        const unsubscribe = pool.subscribe((event) => {
          if (event._tag === "NodeLost" || event._tag === "NodeReady" || event._tag === "PoolScaled")
            for (const connection of connections) connection.announceSlots()
        })
        const running: Running = { directory, server, connections, unsubscribe }
        const started = yield* Effect.either(
          listen(server, socketPath).pipe(
            Effect.zipRight(
              Effect.tryPromise({
                try: () => fs.chmod(socketPath, 0o600),
                catch: (cause) => new BridgeError({ message: `could not restrict ${socketPath}`, cause })
              })
            )
          )
        )
        if (started._tag === "Left") {
          yield* shutdown(running)
          return yield* started.left
        }
        return running
      }),
      shutdown
    )
    const socketPath = path.join(running.directory, "bridge.sock")
    const bridge: Bridge = {
      directory: running.directory,
      socketPath,
      token,
      env: { SKYWARD_BRIDGE: socketPath, SKYWARD_TOKEN: token },
      get connections() {
        return running.connections.size
      }
    }
    return bridge
  })
