import os from "node:os"
import path from "node:path"
import { cacheRoot } from "@skyward/host"

/** A private key: a file path, or the key itself (OpenSSH or PEM text), with an optional passphrase. */
export type SshKey =
  | string
  | { readonly file: string; readonly passphrase?: string }
  | { readonly data: string | Uint8Array; readonly passphrase?: string }

/** Where and how to reach one machine. */
export interface SshTarget {
  /** Host name or IP address. */
  readonly host: string
  /** Default 22. */
  readonly port?: number
  /** Default: the local user name. */
  readonly user?: string
  /** Default: `$SSH_AUTH_SOCK` when set, else the first of `~/.ssh/id_ed25519`, `~/.ssh/id_rsa` that exists. */
  readonly key?: SshKey
  /**
   * The host key to expect (pinned): an OpenSSH public key line (`ssh-ed25519 AAAA...`) or a
   * `SHA256:...` fingerprint. When set, known_hosts files are not consulted.
   */
  readonly hostKey?: string
  /** A bastion to tunnel through (its own user, key and host key apply). */
  readonly jump?: SshTarget
}

/** How connections are made and verified. */
export interface SshConnectOptions {
  /** Seconds allowed to establish a connection, retries included. Default 20. */
  readonly connectTimeout?: number
  /** Seconds between SSH keepalives. Default 2. */
  readonly keepaliveInterval?: number
  /**
   * Unanswered keepalives before the connection counts as dropped. Default 4: a dead link is
   * seen within `keepaliveInterval x (keepaliveCountMax + 1)`, 10 s.
   */
  readonly keepaliveCountMax?: number
  /** Retries after a transient failure (refused, timed out, unreachable). Default 5. */
  readonly retries?: number
  /** known_hosts files to check. Default: `~/.ssh/known_hosts` and Skyward's `<cache>/known_hosts`. */
  readonly knownHostsFiles?: ReadonlyArray<string>
  /**
   * Trust-on-first-use: accept a host that no known_hosts file knows and record its key in
   * `knownHostsRecordFile`. A host whose key changed is refused all the same. Default false.
   */
  readonly trustOnFirstUse?: boolean
  /** Where trust-on-first-use records keys. Default: Skyward's `<cache>/known_hosts`. */
  readonly knownHostsRecordFile?: string
}

/** Settings with defaults applied. */
export interface ResolvedConnectOptions {
  readonly connectTimeoutMs: number
  readonly keepaliveIntervalMs: number
  readonly keepaliveCountMax: number
  readonly retries: number
  readonly knownHostsFiles: ReadonlyArray<string>
  readonly trustOnFirstUse: boolean
  readonly knownHostsRecordFile: string
}

/** Skyward's own known_hosts file on this machine. */
export const skywardKnownHostsFile = (): string => path.join(cacheRoot(), "known_hosts")

/** Applies the defaults to connection options. */
export const resolveConnectOptions = (options: SshConnectOptions = {}): ResolvedConnectOptions => {
  const recordFile = options.knownHostsRecordFile ?? skywardKnownHostsFile()
  const files = options.knownHostsFiles ?? [path.join(os.homedir(), ".ssh", "known_hosts"), skywardKnownHostsFile()]
  return {
    connectTimeoutMs: Math.round((options.connectTimeout ?? 20) * 1000),
    keepaliveIntervalMs: Math.round((options.keepaliveInterval ?? 2) * 1000),
    keepaliveCountMax: options.keepaliveCountMax ?? 4,
    retries: options.retries ?? 5,
    knownHostsFiles: files.includes(recordFile) || !options.trustOnFirstUse ? files : [...files, recordFile],
    trustOnFirstUse: options.trustOnFirstUse ?? false,
    knownHostsRecordFile: recordFile
  }
}
