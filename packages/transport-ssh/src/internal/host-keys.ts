import { createHash, createHmac } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { SshHostKeyError } from "./errors.js"

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  readonly file: string
  readonly line: number
  readonly marker: "" | "@revoked" | "@cert-authority"
  /** The host field as written (patterns, or a hashed `|1|salt|hash`). */
  readonly hosts: string
  readonly keyType: string
  /** The key blob (SSH wire format). */
  readonly key: Buffer
}

/** How a connection checks the server's key. */
export interface HostKeyPolicy {
  /** A pinned key (`ssh-ed25519 AAAA...` line or `SHA256:...`): when set, the only key accepted. */
  readonly pinned?: string
  readonly files: ReadonlyArray<string>
  readonly trustOnFirstUse: boolean
  readonly recordFile: string
}

/** `SHA256:<base64>` (as OpenSSH prints it) of a key blob. */
export const fingerprint = (key: Uint8Array): string =>
  `SHA256:${createHash("sha256").update(key).digest("base64").replace(/=+$/, "")}`

/** The algorithm name written at the start of a key blob (`ssh-ed25519`, `ssh-rsa`, ...). */
export const keyTypeOf = (key: Buffer): string => {
  if (key.length < 4) return "unknown"
  const length = key.readUInt32BE(0)
  return key.subarray(4, 4 + length).toString("latin1")
}

/** The name known_hosts files use for a host: `host` on port 22, else `[host]:port`. */
export const knownHostName = (host: string, port: number): string => (port === 22 ? host : `[${host}]:${port}`)

const globToRegExp = (pattern: string) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".")}$`, "i")

const hashedMatches = (field: string, name: string): boolean => {
  const [, magic, salt, hash] = field.split("|")
  if (magic !== "1" || salt === undefined || hash === undefined) return false
  return createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64") === hash
}

/** True when a known_hosts host field names `name` (`[host]:port` or `host`); handles hashes, wildcards and `!` negation. */
export const hostFieldMatches = (field: string, name: string): boolean => {
  if (field.startsWith("|")) return hashedMatches(field, name)
  let matched = false
  for (const pattern of field.split(",")) {
    const negated = pattern.startsWith("!")
    const glob = negated ? pattern.slice(1) : pattern
    if (globToRegExp(glob).test(name)) {
      if (negated) return false
      matched = true
    }
  }
  return matched
}

/** Parses known_hosts text; malformed lines are skipped, as OpenSSH does. */
export const parseKnownHosts = (text: string, file: string): KnownHostEntry[] => {
  const entries: KnownHostEntry[] = []
  text.split("\n").forEach((raw, index) => {
    const line = raw.trim()
    if (line === "" || line.startsWith("#")) return
    const fields = line.split(/\s+/)
    const marker = fields[0] === "@revoked" || fields[0] === "@cert-authority" ? fields.shift()! : ""
    const [hosts, keyType, base64] = fields
    if (hosts === undefined || keyType === undefined || base64 === undefined) return
    const key = Buffer.from(base64, "base64")
    if (key.length === 0 || keyTypeOf(key) !== keyType) return
    entries.push({ file, line: index + 1, marker: marker as KnownHostEntry["marker"], hosts, keyType, key })
  })
  return entries
}

const readEntries = (files: ReadonlyArray<string>) =>
  Effect.promise(async () => {
    const all: KnownHostEntry[] = []
    for (const file of files) {
      const text = await fs.readFile(file, "utf8").catch(() => undefined)
      if (text !== undefined) all.push(...parseKnownHosts(text, file))
    }
    return all
  })

/** Entries (not cert-authority lines) that name this host. */
export const knownEntriesFor = (host: string, port: number, files: ReadonlyArray<string>) =>
  readEntries(files).pipe(
    Effect.map((entries) => {
      const name = knownHostName(host, port)
      return entries.filter((e) => e.marker !== "@cert-authority" && hostFieldMatches(e.hosts, name))
    })
  )

const hostKeyAlgorithms: Record<string, ReadonlyArray<string>> = {
  "ssh-ed25519": ["ssh-ed25519"],
  "ssh-rsa": ["rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"],
  "ecdsa-sha2-nistp256": ["ecdsa-sha2-nistp256"],
  "ecdsa-sha2-nistp384": ["ecdsa-sha2-nistp384"],
  "ecdsa-sha2-nistp521": ["ecdsa-sha2-nistp521"]
}
const defaultOrder = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521", "rsa-sha2-512", "rsa-sha2-256", "ssh-rsa"]

/**
 * Host-key algorithms to offer, the ones we hold a key for first (as OpenSSH does), so that a
 * server with several keys presents the one we can check.
 */
export const preferredHostKeyAlgorithms = (knownTypes: ReadonlyArray<string>): string[] | undefined => {
  const preferred = knownTypes.flatMap((t) => hostKeyAlgorithms[t] ?? [])
  if (preferred.length === 0) return undefined
  return [...new Set([...preferred, ...defaultOrder])]
}

/** Parses a pinned key: an OpenSSH public key line, or a `SHA256:` fingerprint. */
const pinnedMatches = (pinned: string, key: Buffer): boolean => {
  const text = pinned.trim()
  if (text.startsWith("SHA256:")) return text.replace(/=+$/, "") === fingerprint(key)
  const parts = text.split(/\s+/)
  const base64 = parts.length >= 2 && /^(ssh-|ecdsa-|sk-)/.test(parts[0]!) ? parts[1]! : parts[0]!
  return Buffer.from(base64, "base64").equals(key)
}

/** The key type a pinned key names, when it is a key line. */
export const pinnedKeyType = (pinned: string): string | undefined => {
  const first = pinned.trim().split(/\s+/)[0]
  return first && hostKeyAlgorithms[first] ? first : undefined
}

const recordKey = (file: string, host: string, port: number, key: Buffer) =>
  Effect.promise(async () => {
    await fs.mkdir(path.dirname(file), { recursive: true, mode: 0o700 })
    await fs.appendFile(file, `${knownHostName(host, port)} ${keyTypeOf(key)} ${key.toString("base64")}\n`, { mode: 0o600 })
  })

const where = (entry: KnownHostEntry) => `${entry.file}:${entry.line}`

/**
 * Decides whether the key a server presented is the right one. There is no path that accepts a
 * key nobody vouches for: it is pinned, in a known_hosts file, or recorded now because the caller
 * asked for trust-on-first-use and no file knows the host.
 */
export const verifyHostKey = (
  host: string,
  port: number,
  key: Buffer,
  policy: HostKeyPolicy
): Effect.Effect<{ readonly recorded: boolean }, SshHostKeyError> =>
  Effect.gen(function* () {
    const print = fingerprint(key)
    const type = keyTypeOf(key)
    const name = knownHostName(host, port)
    const refuse = (reason: SshHostKeyError["reason"], message: string) =>
      new SshHostKeyError({ host, port, reason, fingerprint: print, message })

    if (policy.pinned !== undefined) {
      if (pinnedMatches(policy.pinned, key)) return { recorded: false }
      return yield* refuse(
        "mismatch",
        `host key verification failed for ${name}: the server presented ${type} ${print}, which is not the pinned host key. ` +
          `Refusing to connect: the host was re-keyed or someone is intercepting the connection. Check the key on the host (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub) and update the pinned key if it legitimately changed.`
      )
    }

    const entries = yield* knownEntriesFor(host, port, policy.files)
    const revoked = entries.find((e) => e.marker === "@revoked" && e.key.equals(key))
    if (revoked) return yield* refuse("revoked", `host key of ${name} (${type} ${print}) is marked @revoked in ${where(revoked)}; refusing to connect`)
    const valid = entries.filter((e) => e.marker === "")
    if (valid.some((e) => e.key.equals(key))) return { recorded: false }
    if (valid.length > 0) {
      const same = valid.find((e) => e.keyType === type) ?? valid[0]!
      return yield* refuse(
        "changed",
        `HOST KEY CHANGED for ${name}: ${where(same)} records ${same.keyType} ${fingerprint(same.key)}, but the server presented ${type} ${print}. ` +
          `Refusing to connect: someone may be intercepting the connection, or the host was re-installed. ` +
          `If you know the host was re-keyed, remove the old entry (ssh-keygen -R '${name}' -f ${same.file}) and connect again.`
      )
    }
    if (policy.trustOnFirstUse) {
      yield* recordKey(policy.recordFile, host, port, key)
      return { recorded: true }
    }
    return yield* refuse(
      "unknown",
      `host key of ${name} is unknown (${type} ${print}): it is in none of ${policy.files.join(", ") || "(no known_hosts files)"}. ` +
        `Refusing to connect. Add it (ssh-keyscan -p ${port} ${host} >> ~/.ssh/known_hosts, after checking the fingerprint), pin it with the host's hostKey, or turn on trustOnFirstUse.`
    )
  })
