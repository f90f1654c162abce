import path from "node:path"
import { fileURLToPath } from "node:url"
import { sha256File } from "@skyward/host"
import { Data, Effect } from "effect"

/** A local wheel of the mirror cannot be read. */
export class LocalWheelError extends Data.TaggedError("LocalWheelError")<{ readonly message: string }> {}

/** A wheel on the client named by a requirement `name @ file:///.../name-1.0-py3-none-any.whl` (the mirror's local packages). */
export interface LocalWheel {
  readonly requirement: string
  /** The requirement's name with its extras: `name[extra]`. */
  readonly name: string
  /** The wheel's absolute path on the client. */
  readonly file: string
}

const LOCAL_WHEEL = /^([A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?)\s*@\s*(file:\S+\.whl)$/

/** The local wheel a requirement names, or `undefined` for any other requirement. */
export const localWheelOf = (requirement: string): LocalWheel | undefined => {
  const match = LOCAL_WHEEL.exec(requirement.trim())
  if (match === null) return undefined
  try {
    return { requirement, name: match[1]!, file: fileURLToPath(match[2]!) }
  } catch {
    return undefined // a file URL of another machine (file://host/...): pip will say what is wrong
  }
}

/**
 * Where a local wheel goes in a wheels folder: `local/<content hash>/<file name>`. Two builds of
 * one version of a local package share a file name, so the name alone cannot tell a host which it has.
 */
export const localWheelPlace = (file: string): Effect.Effect<string, LocalWheelError> =>
  Effect.tryPromise({
    try: async () => path.posix.join("local", (await sha256File(file)).slice(0, 16), path.basename(file)),
    catch: (cause) => new LocalWheelError({ message: `cannot read the local wheel ${file}: ${cause instanceof Error ? cause.message : String(cause)}` })
  })

/** The requirement that installs `wheel` from `remoteFile` (an absolute POSIX path on the node). */
export const remoteRequirement = (wheel: LocalWheel, remoteFile: string): string =>
  `${wheel.name} @ file://${remoteFile.split("/").map(encodeURIComponent).join("/")}`
