import type { SshTarget } from "@skyward/transport-ssh"

/**
 * One machine of an `ssh()` provider: an SSH target whose `user`, `key` and `jump`, when not
 * given, come from the provider's options.
 */
export type SshHost = SshTarget

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
