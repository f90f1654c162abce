import { ListObjectsV2Command, S3Client } from "@aws-sdk/client-s3"
import { GetSessionTokenCommand, STSClient } from "@aws-sdk/client-sts"
import { ConfigError, ProviderError, s3Location, type NodeInfo, type Volume, type VolumeAccess } from "@skyward/contracts"
import { Effect, Either } from "effect"
import { clientConfig, noCredentialsMessage, noRegionMessage } from "./credentials.js"
import type { AwsConnection } from "./options.js"

/** Where the client's AWS set-up is: region, profile, endpoint (as the provider's options). */
export type S3VolumeAccessOptions = AwsConnection

/** How long the nodes' credentials from STS GetSessionToken last: 12 hours. */
export const SESSION_SECONDS = 12 * 3600

/** Credentials handed to nodes are renewed when less than this is left of them. */
const RENEW_BEFORE_MS = 30 * 60_000

interface NodeCredentials {
  readonly accessKeyId: string
  readonly secretAccessKey: string
  readonly sessionToken: string
  readonly expiration: Date | undefined
}

const messageOf = (cause: unknown) => (cause as Error)?.message ?? String(cause)
const codeOf = (cause: unknown) => {
  const e = cause as { name?: string; Code?: string }
  return e?.Code ?? e?.name ?? "Unknown"
}

const volumeError = (message: string) => new ConfigError({ field: "volumes", message })

/**
 * Runs `use` with an SDK client of `make`, destroyed after; the client's region and credentials are
 * resolved first (a missing one fails with `onMissing`'s error).
 */
const withClient = <C extends S3Client | STSClient, A, E>(
  make: () => C,
  onMissing: (what: "region" | "credentials", cause: unknown) => E,
  use: (client: C, region: string, credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string; expiration?: Date }) => Effect.Effect<A, E>
): Effect.Effect<A, E> =>
  Effect.acquireUseRelease(
    Effect.sync(make),
    (client) =>
      Effect.gen(function* () {
        const region = yield* Effect.tryPromise({ try: () => client.config.region(), catch: (cause) => onMissing("region", cause) })
        const credentials = yield* Effect.tryPromise({ try: () => client.config.credentials(), catch: (cause) => onMissing("credentials", cause) })
        return yield* use(client, region, credentials)
      }),
    (client) => Effect.sync(() => client.destroy())
  )

const setupMessage = (what: "region" | "credentials", cause: unknown) =>
  (what === "region" ? noRegionMessage(cause, 's3VolumeAccess({ region: "us-east-1" }) (CLI: --region)') : noCredentialsMessage(cause))

/** Checks one S3 volume: the bucket exists and something is under the prefix, readable with the client's identity. */
const checkVolume = (s3: S3Client, region: string, volume: Volume): Effect.Effect<void, ConfigError> => {
  const location = s3Location(volume.source)
  if (location === undefined) return Effect.void
  const { bucket, prefix } = location
  const where = `volume ${volume.path}`
  return Effect.tryPromise({
    try: () => s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, MaxKeys: 1 })),
    catch: (cause) => {
      const code = codeOf(cause)
      if (code === "NoSuchBucket") return volumeError(`${where}: no such bucket "${bucket}" (in region ${region}): check the name and the region`)
      if (code === "AccessDenied" || code === "Forbidden" || code === "AllAccessDisabled")
        return volumeError(
          `${where}: access denied to ${volume.source}: your AWS identity needs s3:ListBucket and s3:GetObject` +
            `${volume.writable ? " (and s3:PutObject: the volume is writable)" : ""} on it`
        )
      return volumeError(`${where}: cannot list ${volume.source}: ${code}: ${messageOf(cause)}`)
    }
  }).pipe(
    Effect.flatMap((out) =>
      (out.KeyCount ?? out.Contents?.length ?? 0) === 0 ? Effect.fail(volumeError(`${where}: nothing under ${volume.source}: check the prefix`)) : Effect.void
    )
  )
}

/**
 * `make`'s result, made once and shared by every caller (also by callers that come while it is
 * being made); made again after a failure, or when `stale` says the value will not do any more.
 */
const memo = <A, E>(make: Effect.Effect<A, E>, stale: (a: A) => boolean): Effect.Effect<A, E> => {
  let pending: Promise<Either.Either<A, E>> | undefined
  const start = () => {
    const promise = Effect.runPromise(Effect.either(make))
    pending = promise
    void promise.then((result) => {
      if (Either.isLeft(result) && pending === promise) pending = undefined
    })
    return promise
  }
  return Effect.promise(async () => {
    const current = pending ?? start()
    const result = await current
    if (Either.isRight(result) && stale(result.right)) return pending === current ? start() : (pending ?? start())
    return result
  }).pipe(Effect.flatMap((result) => (Either.isLeft(result) ? Effect.fail(result.left) : Effect.succeed(result.right))))
}

/**
 * The client's access to the pool's S3 volumes, from its AWS set-up: the SDK's standard chain
 * (environment, `AWS_PROFILE` / profile files, SSO, container or instance roles), as `aws()` uses it.
 *
 * - `check(volumes)` lists each `s3://` volume's prefix (`ListObjectsV2`, one key) before any
 *   machine starts, and fails with a `ConfigError` on `volumes` that names the volume and the
 *   problem: no such bucket, nothing under the prefix, access denied, no credentials or region.
 *   Folder volumes are not its business and pass.
 * - `env(node)` is what the node's agent needs to read them with boto3: `AWS_REGION` and
 *   `AWS_DEFAULT_REGION`, `AWS_ENDPOINT_URL_S3` when `endpoint` is given, and short-lived
 *   credentials (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`): made once per
 *   access object with STS `GetSessionToken` (12 hours; renewed when less than 30 minutes are left),
 *   or the client's own when they are already temporary (a role, SSO), so long-lived keys never
 *   reach a node. A node with an instance profile of its own (`node.data.instanceProfile`, EC2 with
 *   `aws({ instanceProfile })`) gets no credentials: boto3 there uses the instance's role.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { aws, s3VolumeAccess } from "@skyward/provider-aws"
 * await ComputePool.use(
 *   {
 *     provider: aws({ region: "eu-west-1" }),
 *     nodes: 4,
 *     volumes: [{ source: "s3://my-bucket/datasets/v3", path: "/data" }],
 *     volumeAccess: s3VolumeAccess({ region: "eu-west-1" })
 *   },
 *   (pool) => pool.map("mymod:train", inputs)
 * )
 * ```
 */
export const s3VolumeAccess = (options: S3VolumeAccessOptions = {}): VolumeAccess => {
  const config = clientConfig(options)
  // S3 through another endpoint (an emulator, a VPC endpoint): path-style addressing
  const s3Config = { ...config, followRegionRedirects: true, ...(options.endpoint === undefined ? {} : { forcePathStyle: true }) }
  const providerError = (message: string, cause?: unknown) =>
    new ProviderError({ provider: "aws", message: `S3 volumes: ${message}`, ...(cause === undefined ? {} : { cause }) })

  const fetchCredentials = (): Effect.Effect<NodeCredentials, ProviderError> =>
    withClient(
      () => new STSClient(config),
      (what, cause) => providerError(setupMessage(what, cause), cause),
      (sts, _region, own) =>
        own.sessionToken !== undefined && own.sessionToken !== ""
          ? // already temporary (a role, SSO): GetSessionToken refuses those, and they are short-lived anyway
            Effect.succeed({ accessKeyId: own.accessKeyId, secretAccessKey: own.secretAccessKey, sessionToken: own.sessionToken, expiration: own.expiration })
          : Effect.tryPromise({
              try: () => sts.send(new GetSessionTokenCommand({ DurationSeconds: SESSION_SECONDS })),
              catch: (cause) => providerError(`cannot get short-lived credentials for the nodes (STS GetSessionToken): ${codeOf(cause)}: ${messageOf(cause)}`, cause)
            }).pipe(
              Effect.flatMap((out) => {
                const c = out.Credentials
                return c?.AccessKeyId === undefined || c.SecretAccessKey === undefined || c.SessionToken === undefined
                  ? Effect.fail(providerError("STS GetSessionToken returned no credentials"))
                  : Effect.succeed({ accessKeyId: c.AccessKeyId, secretAccessKey: c.SecretAccessKey, sessionToken: c.SessionToken, expiration: c.Expiration })
              })
            )
    )

  const nodeRegion = memo(
    Effect.acquireUseRelease(
      Effect.sync(() => new STSClient(config)),
      (sts) => Effect.tryPromise({ try: () => sts.config.region(), catch: (cause) => providerError(setupMessage("region", cause), cause) }),
      (sts) => Effect.sync(() => sts.destroy())
    ),
    () => false
  )
  const nodeCredentials = memo(fetchCredentials(), (c) => c.expiration !== undefined && c.expiration.getTime() - Date.now() < RENEW_BEFORE_MS)

  return {
    check: (volumes) => {
      const s3Volumes = volumes.filter((v) => s3Location(v.source) !== undefined)
      if (s3Volumes.length === 0) return Effect.void
      return withClient(
        () => new S3Client(s3Config),
        (what, cause) => volumeError(`S3 volumes: ${setupMessage(what, cause)}`),
        (s3, resolved) => Effect.forEach(s3Volumes, (volume) => checkVolume(s3, resolved, volume), { discard: true })
      )
    },
    env: (node: NodeInfo) =>
      Effect.gen(function* () {
        const resolved = yield* nodeRegion
        const base: Record<string, string> = {
          AWS_REGION: resolved,
          AWS_DEFAULT_REGION: resolved,
          ...(options.endpoint === undefined ? {} : { AWS_ENDPOINT_URL_S3: options.endpoint })
        }
        const profile = node.data.instanceProfile
        if (typeof profile === "string" && profile !== "") return base
        const c = yield* nodeCredentials
        return { ...base, AWS_ACCESS_KEY_ID: c.accessKeyId, AWS_SECRET_ACCESS_KEY: c.secretAccessKey, AWS_SESSION_TOKEN: c.sessionToken }
      })
  }
}
