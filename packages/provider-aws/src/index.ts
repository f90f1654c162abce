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

/** The provider factory (`aws({...})`), its layer with test seams, and the partial-failure message. */
export { aws, awsLayer, describeFailures, makeAwsProvider, type AwsProviderDeps } from "./internal/provider.js"
/** The provider's options, their defaults and checks, and the tag keys of managed resources. */
export {
  checkOptions,
  DEFAULT_AMI_PARAMETER,
  isCidr,
  MANAGED_TAG,
  POOL_TAG,
  resolveOptions,
  type AddressKind,
  type Allocation,
  type AwsConnection,
  type AwsProviderOptions,
  type ResolvedAwsOptions
} from "./internal/options.js"
/** The tagged errors of this package and the error codes that make spot fall back to on-demand. */
export { AwsCallError, AwsSetupError, InstancesFailed, SPOT_FALLBACK_CODES, type InstanceFailure } from "./internal/errors.js"
/** SDK clients: the standard factory and the credential/region check done before anything is created. */
export { acquireClients, defaultClients, type AwsClients, type ClientFactory } from "./internal/credentials.js"
/** `skyward ls` / `skyward down`: Skyward-tagged resources of a region, and their removal. */
export {
  listManaged,
  listResources,
  removeManaged,
  removeResources,
  type ManagedResource,
  type Removal
} from "./internal/inventory.js"
/** The ed25519 keys made on the client (login key, per-instance host keys), in OpenSSH formats. */
export { generateEd25519, type Ed25519KeyPair } from "./internal/host-keys.js"
/** The user-data each instance boots with (cloud-config: host key, login key, watchdog). */
export { buildUserData, watchdogScript, WATCHDOG_PATH, type UserDataInput } from "./internal/user-data.js"
/** SSH reachability checks used while waiting for instances. */
export { bannerProbe, type SshProbe } from "./internal/wait.js"
