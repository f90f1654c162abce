/**
 * @skyward/provider-aws: Skyward pools on AWS EC2 (@aws-sdk/client-ec2), reached through
 * `@skyward/transport-ssh` with host keys pinned in advance.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { aws } from "@skyward/provider-aws"
 * await ComputePool.use({ provider: aws({ region: "us-east-1" }), nodes: 4 }, (pool) => pool.map("m:f", inputs))
 * ```
 * @packageDocumentation
 */

/** The provider factory (`aws({...})`), and the plan of a pool without creating anything (`skyward run --dry-run`). */
export { aws, planAws, type AwsPlan } from "./internal/provider.js"
/** The provider's options, the connection part it shares with `skyward ls` / `skyward down`, and their check. */
export { checkOptions, type AwsConnection, type AwsProviderOptions } from "./internal/options.js"
/** `skyward ls` / `skyward down`: the Skyward-tagged resources of a region, and their removal. */
export { listResources, removeResources, type ManagedResource, type Removal } from "./internal/inventory.js"
/** The tagged errors `listResources` and `removeResources` fail with (the pool reports `ConfigError` / `ProviderError`). */
export { AwsCallError, AwsSetupError } from "./internal/errors.js"
/**
 * How nodes read a pool's `s3://` volumes with the client's AWS set-up (the pool option
 * `volumeAccess`): `check` lists each volume's prefix before any machine starts; `env` gives each
 * node its region and short-lived credentials (STS `GetSessionToken`, or the client's own when
 * already temporary), none for an EC2 node with an instance profile (`aws({ instanceProfile })`).
 */
export { s3VolumeAccess, type S3VolumeAccessOptions } from "./internal/volume-access.js"
