import type { SshKey, SshTarget } from "@skyward/transport-ssh"

/** One machine of an `ssh()` provider. */
export interface SshHost {
  readonly host: string
  /** Default 22. */
  readonly port?: number
  /** Default: the provider's `user`, else the local user name. */
  readonly user?: string
  /** Default: the provider's `key`, else ssh-agent / ~/.ssh/id_ed25519 / ~/.ssh/id_rsa. */
  readonly key?: SshKey
  /** Pinned host key (`ssh-ed25519 AAAA...` or `SHA256:...`); else known_hosts decides. */
  readonly hostKey?: string
  /** Bastion to reach this host through. */
  readonly jump?: SshTarget
}

/**
 * Parses `[user@]host[:port]` (IPv6 as `[addr]` or `user@[addr]:port`), the form of the CLI's
 * `--hosts`.
 */
export const parseHostSpec = (spec: string): SshHost => {
  const text = spec.trim()
  const at = text.lastIndexOf("@")
  const user = at > 0 ? text.slice(0, at) : undefined
  const rest = at >= 0 ? text.slice(at + 1) : text
  let host: string
  let port: number | undefined
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(rest)
  if (bracketed) {
    host = bracketed[1]!
    port = bracketed[2] === undefined ? undefined : Number(bracketed[2])
  } else {
    const colon = rest.lastIndexOf(":")
    if (colon > 0 && rest.indexOf(":") === colon) {
      host = rest.slice(0, colon)
      port = Number(rest.slice(colon + 1))
    } else host = rest
  }
  if (host === "" || (port !== undefined && (!Number.isInteger(port) || port < 1 || port > 65535)))
    throw new Error(`invalid host ${JSON.stringify(spec)}: expected [user@]host[:port]`)
  return { host, ...(port === undefined ? {} : { port }), ...(user === undefined ? {} : { user }) }
}

/** Parses a comma-separated list of `[user@]host[:port]` (the CLI's `--hosts`). */
export const parseHostList = (list: string): SshHost[] =>
  list
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s !== "")
    .map(parseHostSpec)
