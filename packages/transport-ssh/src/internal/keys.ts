import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import ssh2 from "ssh2"
import { SshKeyError } from "./errors.js"
import type { SshKey } from "./options.js"

/** A private key ready for ssh2, with a description for messages. */
export interface LoadedKey {
  readonly privateKey?: Buffer
  readonly passphrase?: string
  /** ssh-agent socket, when no key was given and an agent runs. */
  readonly agent?: string
  /** "key /home/me/.ssh/id_ed25519 (ssh-ed25519)", for messages. */
  readonly description: string
}

const expandHome = (file: string) => (file === "~" || file.startsWith("~/") ? path.join(os.homedir(), file.slice(1)) : file)

const parse = (data: Buffer, passphrase: string | undefined, label: string) =>
  Effect.gen(function* () {
    const parsed = ssh2.utils.parseKey(data, passphrase)
    const key = Array.isArray(parsed) ? parsed[0] : parsed
    if (key === undefined || key instanceof Error) {
      const why = key instanceof Error ? key.message : "no key found"
      const hint = /passphrase|encrypt/i.test(why) ? " (give its passphrase)" : ""
      return yield* new SshKeyError({ key: label, message: `cannot use ${label}: ${why}${hint}` })
    }
    if (!key.isPrivateKey())
      return yield* new SshKeyError({ key: label, message: `cannot use ${label}: it is a public key; give the private key file` })
    return { privateKey: data, ...(passphrase === undefined ? {} : { passphrase }), description: `${label} (${key.type})` }
  })

const fromFile = (file: string, passphrase: string | undefined) =>
  Effect.tryPromise({
    try: () => fs.readFile(expandHome(file)),
    catch: (cause) =>
      new SshKeyError({ key: file, message: `cannot read the private key file ${file}: ${(cause as Error).message}`, cause })
  }).pipe(Effect.flatMap((data) => parse(data, passphrase, `key file ${file}`)))

/** Loads the key of a target: a file, in-memory text, or the defaults (ssh-agent, ~/.ssh/id_ed25519, ~/.ssh/id_rsa). */
export const loadKey = (key: SshKey | undefined): Effect.Effect<LoadedKey, SshKeyError> => {
  if (typeof key === "string") return fromFile(key, undefined)
  if (key !== undefined && "file" in key) return fromFile(key.file, key.passphrase)
  if (key !== undefined) return parse(Buffer.from(key.data), key.passphrase, "in-memory key")
  return Effect.gen(function* () {
    const agent = process.env.SSH_AUTH_SOCK
    if (agent) return { agent, description: `ssh-agent (${agent})` }
    for (const name of ["id_ed25519", "id_rsa"]) {
      const file = path.join(os.homedir(), ".ssh", name)
      const found = yield* Effect.promise(() => fs.access(file).then(() => true, () => false))
      if (found) return yield* fromFile(file, undefined)
    }
    return yield* new SshKeyError({
      key: "(default)",
      message: "no SSH key given, no ssh-agent running and neither ~/.ssh/id_ed25519 nor ~/.ssh/id_rsa exists: give a key"
    })
  })
}
