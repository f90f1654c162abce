import path from "node:path"
import type { Effect } from "effect"
import { Schema } from "effect"
import type { NodeInfo } from "./cluster.js"
import type { ConfigError, ProviderError } from "./errors.js"

const S3_SOURCE = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/

/** Schema of a volume: data every node sees at the same path. */
export const VolumeSchema = Schema.Struct({
  /**
   * `s3://bucket/prefix`: every node fetches the objects under the prefix itself (never through the
   * client). Or a folder of the client (absolute): the local provider's nodes read it in place, the
   * ssh provider's get a copy.
   */
  source: Schema.String.pipe(
    Schema.filter((source) => S3_SOURCE.test(source) || (!source.includes("://") && path.isAbsolute(source)), {
      message: () => "must be s3://bucket/prefix or an absolute folder of this machine"
    })
  ),
  /** Where tasks see it: an absolute POSIX path such as `/data`. */
  path: Schema.String.pipe(
    Schema.filter((p) => path.posix.isAbsolute(p) && path.posix.normalize(p) === p && p !== "/", {
      message: () => "must be an absolute path such as /data (normalized, not /)"
    })
  ),
  /**
   * Whether tasks may write there: an S3 volume's files that a task wrote are put back when the task
   * ends; a local folder is written in place. Default false: writing fails, saying the volume is read-only.
   */
  writable: Schema.optionalWith(Schema.Boolean, { default: () => false })
})

/** A volume, validated. */
export type Volume = typeof VolumeSchema.Type

/** The bucket and prefix of an `s3://` source; undefined for a folder. */
export const s3Location = (source: string): { readonly bucket: string; readonly prefix: string } | undefined => {
  const match = S3_SOURCE.exec(source)
  return match === null ? undefined : { bucket: match[1]!, prefix: match[2] ?? "" }
}

/**
 * How nodes reach the pool's S3 volumes, from the client's AWS set-up (`@skyward/provider-aws`'s
 * `s3VolumeAccess`): checked before any machine starts, and what each node needs in its environment.
 */
export interface VolumeAccess {
  /** Fails with a `ConfigError` naming the problem when a bucket or prefix is missing or unreadable. */
  readonly check: (volumes: ReadonlyArray<Volume>) => Effect.Effect<void, ConfigError>
  /**
   * Variables for `node`'s agent (sent on its input, never a command line): short-lived credentials,
   * region, endpoint; none of the credentials when the node has a role of its own (an EC2 instance profile).
   */
  readonly env: (node: NodeInfo) => Effect.Effect<Readonly<Record<string, string>>, ProviderError>
}
