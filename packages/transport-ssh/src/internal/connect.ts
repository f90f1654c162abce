import os from "node:os"
import type { Duplex } from "node:stream"
import { Effect, type Scope } from "effect"
import ssh2 from "ssh2"
import type { Client, ConnectConfig } from "ssh2"
import { SshAuthError, SshConnectError, SshHostKeyError, type SshOpenError } from "./errors.js"
import { knownEntriesFor, pinnedKeyType, preferredHostKeyAlgorithms, verifyHostKey, type HostKeyPolicy } from "./host-keys.js"
import { loadKey, type LoadedKey } from "./keys.js"
import { resolveConnectOptions, type ResolvedConnectOptions, type SshConnectOptions, type SshTarget } from "./options.js"
import { retryTransient } from "./retry.js"

/** An open, authenticated SSH connection. Closing its scope disconnects it (and its jump host). */
export interface SshConnection {
  readonly host: string
  readonly port: number
  readonly user: string
  /** `user@host:port`. */
  readonly label: string
  /** The ssh2 client, for channels this package does not wrap. */
  readonly client: Client
  /** Why the connection ended, or undefined while it is up. */
  readonly closedReason: () => string | undefined
  /** Called once when the connection ends (dropped, keepalive timeout, closed). */
  readonly onClose: (listener: (reason: string) => void) => void
}

const TRANSIENT_CODES = new Set(["ECONNREFUSED", "ETIMEDOUT", "EHOSTUNREACH", "ENETUNREACH", "ECONNRESET", "EAI_AGAIN", "EPIPE", "ECONNABORTED"])

type SshError = Error & { level?: string; code?: string | number; description?: string }

const describeSocketError = (error: SshError, where: string): string => {
  switch (error.code) {
    case "ECONNREFUSED":
      return `connection refused by ${where} (is sshd running and listening on that port?)`
    case "EHOSTUNREACH":
      return `${where} is unreachable (no route to host)`
    case "ENETUNREACH":
      return `${where} is unreachable (network unreachable)`
    case "ETIMEDOUT":
      return `timed out connecting to ${where}`
    case "ENOTFOUND":
      return `cannot resolve the host name of ${where}`
    default:
      return `cannot connect to ${where}: ${error.message}`
  }
}

interface Attempt {
  readonly target: Required<Pick<SshTarget, "host">> & { readonly port: number; readonly user: string }
  readonly key: LoadedKey
  readonly policy: HostKeyPolicy
  readonly options: ResolvedConnectOptions
  readonly algorithms: string[] | undefined
  readonly deadline: number
  /** Opens the stream to tunnel through (jump host), fresh per attempt. */
  readonly tunnel?: Effect.Effect<Duplex, SshConnectError>
}

const attemptOnce = ({ target, key, policy, options, algorithms, deadline, tunnel }: Attempt) =>
  Effect.flatMap(tunnel ?? Effect.succeed(undefined), (sock) =>
    Effect.async<Client, SshOpenError>((resume) => {
      const { host, port, user } = target
      const where = `${host}:${port}`
      const client = new ssh2.Client()
      let settled = false
      let hostKeyError: SshHostKeyError | undefined
      const settle = (effect: Effect.Effect<Client, SshOpenError>) => {
        if (settled) return
        settled = true
        client.removeAllListeners("ready")
        resume(effect)
      }
      client.on("ready", () => settle(Effect.succeed(client)))
      client.on("error", (error: SshError) => {
        client.destroy()
        if (hostKeyError) return settle(Effect.fail(hostKeyError))
        if (error.level === "client-authentication")
          return settle(
            Effect.fail(
              new SshAuthError({
                host, port, user, key: key.description,
                message:
                  `authentication failed for ${user}@${where} with ${key.description}: the server refused it. ` +
                  `Check the user name, and that the matching public key is in that user's ~/.ssh/authorized_keys on ${host}.`
              })
            )
          )
        if (error.level === "client-timeout")
          return settle(Effect.fail(new SshConnectError({ host, port, transient: true, message: `timed out waiting for the SSH handshake with ${where}`, cause: error })))
        if (error.level === "client-socket" || typeof error.code === "string")
          return settle(
            Effect.fail(
              new SshConnectError({ host, port, transient: TRANSIENT_CODES.has(String(error.code)), message: describeSocketError(error, where), cause: error })
            )
          )
        settle(Effect.fail(new SshConnectError({ host, port, transient: false, message: `SSH connection to ${where} failed: ${error.message}`, cause: error })))
      })
      client.on("close", () =>
        settle(Effect.fail(new SshConnectError({ host, port, transient: true, message: `${where} closed the connection during the SSH handshake` })))
      )
      const config: ConnectConfig = {
        host,
        port,
        username: user,
        readyTimeout: Math.max(1_000, deadline - Date.now()),
        keepaliveInterval: options.keepaliveIntervalMs,
        keepaliveCountMax: options.keepaliveCountMax,
        hostVerifier: (presented: Buffer, verify: (ok: boolean) => void) => {
          Effect.runPromise(Effect.either(verifyHostKey(host, port, presented, policy))).then(
            (result) => {
              if (result._tag === "Left") hostKeyError = result.left
              verify(result._tag === "Right")
            },
            () => verify(false)
          )
        },
        ...(key.privateKey ? { privateKey: key.privateKey } : {}),
        ...(key.passphrase === undefined ? {} : { passphrase: key.passphrase }),
        ...(key.agent ? { agent: key.agent } : {}),
        ...(algorithms ? { algorithms: { serverHostKey: algorithms as NonNullable<ConnectConfig["algorithms"]>["serverHostKey"] } } : {}),
        ...(sock ? { sock } : {})
      }
      try {
        client.connect(config)
      } catch (error) {
        settle(Effect.fail(new SshConnectError({ host, port, transient: false, message: `cannot connect to ${where}: ${(error as Error).message}`, cause: error })))
      }
      return Effect.sync(() => {
        if (!settled) {
          settled = true
          client.destroy()
        }
      })
    })
  )

const forwardOut = (via: SshConnection, host: string, port: number) =>
  Effect.async<Duplex, SshConnectError>((resume) => {
    via.client.forwardOut("127.0.0.1", 0, host, port, (error, stream) => {
      if (error)
        resume(
          Effect.fail(
            new SshConnectError({
              host, port, transient: true,
              message: `the jump host ${via.label} could not reach ${host}:${port}: ${error.message}`,
              cause: error
            })
          )
        )
      else resume(Effect.succeed(stream as unknown as Duplex))
    })
  })

const trackClose = (client: Client, label: string) => {
  const listeners: Array<(reason: string) => void> = []
  let reason: string | undefined
  let lastError: SshError | undefined
  client.on("error", (error: SshError) => {
    lastError = error
  })
  client.on("close", () => {
    if (reason !== undefined) return
    reason =
      lastError === undefined
        ? `the SSH connection to ${label} closed`
        : lastError.message === "Keepalive timeout"
          ? `the SSH connection to ${label} was lost (no answer to keepalives)`
          : `the SSH connection to ${label} was lost: ${lastError.message}`
    for (const listener of listeners.splice(0)) listener(reason)
  })
  return {
    closedReason: () => reason,
    onClose: (listener: (r: string) => void) => (reason === undefined ? listeners.push(listener) : listener(reason)),
    markClosing: () => {
      if (reason === undefined) reason = `the SSH connection to ${label} was closed`
    }
  }
}

const disconnect = (client: Client) =>
  Effect.async<void>((resume) => {
    const timer = setTimeout(() => {
      client.destroy()
      resume(Effect.void)
    }, 2_000)
    client.once("close", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    try {
      client.end()
    } catch {
      client.destroy()
    }
  })

/**
 * Opens an SSH connection to `target` (through its jump host, if any), verifying the host key and
 * retrying transient failures with backoff and jitter within `connectTimeout`. Authentication and
 * host-key failures are never retried.
 */
export const openSsh = (
  target: SshTarget,
  connectOptions: SshConnectOptions | ResolvedConnectOptions = {}
): Effect.Effect<SshConnection, SshOpenError, Scope.Scope> =>
  Effect.gen(function* () {
    const options = "connectTimeoutMs" in connectOptions ? connectOptions : resolveConnectOptions(connectOptions)
    const host = target.host
    const port = target.port ?? 22
    const user = target.user ?? os.userInfo().username
    const label = `${user}@${host}:${port}`
    const key = yield* loadKey(target.key)
    const policy: HostKeyPolicy = {
      ...(target.hostKey === undefined ? {} : { pinned: target.hostKey }),
      files: options.knownHostsFiles,
      trustOnFirstUse: options.trustOnFirstUse,
      recordFile: options.knownHostsRecordFile
    }
    const knownTypes =
      target.hostKey !== undefined
        ? [pinnedKeyType(target.hostKey)].filter((t): t is string => t !== undefined)
        : (yield* knownEntriesFor(host, port, options.knownHostsFiles)).map((e) => e.keyType)
    const via = target.jump === undefined ? undefined : yield* openSsh(target.jump, options)
    const deadline = Date.now() + options.connectTimeoutMs
    let lastError: SshOpenError | undefined
    const once = attemptOnce({
      target: { host, port, user },
      key,
      policy,
      options,
      algorithms: preferredHostKeyAlgorithms(knownTypes),
      deadline,
      ...(via ? { tunnel: forwardOut(via, host, port) } : {})
    }).pipe(Effect.tapError((e) => Effect.sync(() => (lastError = e))))
    const client = yield* retryTransient(once, {
      retries: options.retries,
      isTransient: (e) => e._tag === "SshConnectError" && e.transient
    }).pipe(
      Effect.timeoutFail({
        duration: options.connectTimeoutMs,
        onTimeout: () =>
          new SshConnectError({
            host, port, transient: true,
            message: `could not connect to ${label} within ${options.connectTimeoutMs / 1000}s${lastError ? ` (last error: ${lastError.message})` : ""}`
          })
      }),
      Effect.mapError((e) =>
        e._tag === "SshConnectError" && e.transient && !e.message.startsWith("could not connect")
          ? new SshConnectError({ ...e, message: `could not connect to ${label}: ${e.message}` })
          : e
      )
    )
    const closing = trackClose(client, label)
    yield* Effect.addFinalizer(() =>
      Effect.suspend(() => {
        closing.markClosing()
        return disconnect(client)
      })
    )
    return { host, port, user, label, client, closedReason: closing.closedReason, onClose: closing.onClose }
  })
