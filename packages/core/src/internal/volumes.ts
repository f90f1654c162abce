import fs from "node:fs"
import path from "node:path"
import { ConfigError, formatBytes, type NodeSession, type TransportError, type Volume, type VolumeAccess } from "@skyward/contracts"
import { Effect } from "effect"
import type { Traffic } from "./agent-link.js"

/** Folder volumes copied to a remote node land here, in its work folder. */
const VOLUME_FOLDER = ".skyward-volumes"

/** What nodes need to read S3 (their agents install it when a volume is on S3). */
export const S3_CLIENT_REQUIREMENT = "boto3"

/** Whether the nodes fetch `volume` from S3 themselves. */
export const isS3 = (volume: Volume): boolean => volume.source.startsWith("s3://")

/** Bytes of the files under `folder`. */
const folderBytes = (folder: string): number =>
  fs.readdirSync(folder, { recursive: true, withFileTypes: true }).reduce((sum, entry) => {
    if (!entry.isFile()) return sum
    return sum + fs.statSync(path.join(entry.parentPath, entry.name)).size
  }, 0)

/**
 * The pool's volumes checked before any machine exists: two at one path, a folder that is not
 * there, a folder on a provider whose nodes cannot get it (EC2), a writable folder that would be
 * written on copies, an S3 volume without the access to read it (then that access's own check).
 */
export const checkVolumes = (
  volumes: ReadonlyArray<Volume>,
  provider: string,
  access: VolumeAccess | undefined
): Effect.Effect<void, ConfigError> =>
  Effect.gen(function* () {
    const refuse = (message: string) => new ConfigError({ field: "volumes", message: `volumes: ${message}` })
    for (const [index, volume] of volumes.entries()) {
      if (volumes.findIndex((other) => other.path === volume.path) !== index) return yield* refuse(`two volumes at ${volume.path}`)
      if (isS3(volume)) continue
      if (!fs.statSync(volume.source, { throwIfNoEntry: false })?.isDirectory())
        return yield* refuse(`${volume.source} (for ${volume.path}) is not a folder of this machine`)
      if (provider === "aws") return yield* refuse(`${volume.source}: a folder of this machine is a volume for the local and ssh providers; on EC2 put it in S3 and give s3://bucket/prefix`)
      if (volume.writable && provider !== "local")
        return yield* refuse(`${volume.path}: a writable folder volume is written in place, so only local nodes can have one; ssh nodes get a copy (use an s3:// volume to keep what tasks write)`)
    }
    const s3 = volumes.filter(isS3)
    if (s3.length === 0) return
    if (access === undefined)
      return yield* refuse(`${s3[0]!.source} needs volumeAccess: s3VolumeAccess() of @skyward/provider-aws (skyward run sets it from your AWS set-up)`)
    yield* access.check(s3)
  })

/** The pool's volumes as `session`'s agent takes them (`--volume JSON`): a folder copied to the node where it is not read in place. */
export const nodeVolumes = (
  session: NodeSession,
  settings: { readonly volumes: ReadonlyArray<Volume>; readonly volumesInPlace: boolean; readonly traffic: Traffic },
  onLine: (line: string) => void
): Effect.Effect<ReadonlyArray<Volume>, TransportError> =>
  Effect.forEach(settings.volumes, (volume, index) => {
    if (isS3(volume) || settings.volumesInPlace) return Effect.succeed(volume)
    const bytes = folderBytes(volume.source)
    onLine(`volume ${volume.path}: copying ${volume.source} (${formatBytes(bytes)})`)
    return session.upload(volume.source, `${VOLUME_FOLDER}/${index}`).pipe(
      Effect.tap(() => Effect.sync(() => (settings.traffic.sentBytes += bytes))),
      Effect.map((landed) => ({ ...volume, source: landed }))
    )
  })
