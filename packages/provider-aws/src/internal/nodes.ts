import type { EC2Client } from "@aws-sdk/client-ec2"
import type { NodeInfo } from "@skyward/contracts"
import type { SshTarget } from "@skyward/transport-ssh"
import { Effect, type Scope } from "effect"
import type { HostKeyReader } from "./console-host-key.js"
import type { AwsClients } from "./credentials.js"
import { InstancesFailed, type AwsCallError, type InstanceFailure } from "./errors.js"
import { poolInstanceProfile, type InstanceProfileChoice } from "./instance-profile.js"
import { instanceSweeper, launchInstance, type Launched } from "./instances.js"
import { poolKeyPair, type PoolKeyPair } from "./key-pair.js"
import type { AwsProviderOptions, ResolvedAwsOptions } from "./options.js"
import { instancePrices } from "./prices.js"
import { poolSecurityGroup, type Network } from "./security-group.js"
import { poolTags } from "./tags.js"
import { buildUserData } from "./user-data.js"
import { waitReady, type SshProbe } from "./wait.js"

/** What `prepare` learnt, for `provision` and `addNode`. */
export interface Prepared {
  readonly clients: AwsClients
  /** The instance type named, or the one chosen for `vcpus`, `memory` and `gpu`. */
  readonly instanceType: string
  readonly ami: string
  readonly network: Network
  readonly sshCidr: string | undefined
  /** The role of the instances (`instanceProfile`), if any. */
  readonly instanceProfile: InstanceProfileChoice | undefined
}

/** The provider's seams `launchNodes` uses. */
export interface NodeSeams {
  readonly probe: SshProbe
  readonly hostKeyReader: (ec2: EC2Client) => HostKeyReader
}

/** What every instance of a pool is launched with: made once, when the pool is provisioned. */
export interface PoolResources {
  readonly poolId: string
  readonly keyPair: PoolKeyPair
  readonly securityGroupIds: ReadonlyArray<string>
  /** The instance profile every instance gets: the one named, or the pool's own (`made`). */
  readonly instanceProfile: { readonly nameOrArn: string; readonly made: boolean } | undefined
}

/** What a pool does with the instances when some do not come up, as `describeFailures` says it. */
export const POOL_TORN_DOWN = "so the whole pool was torn down"

/** The message of a partial failure: which instances did not come up and why, and what became of them. */
export const describeFailures = (failures: ReadonlyArray<InstanceFailure>, total: number, outcome: string = POOL_TORN_DOWN): string =>
  `${failures.length} of ${total} instance${total === 1 ? "" : "s"} did not come up, ${outcome}:\n` +
  failures.map((f) => `  node ${f.index}${f.instanceId ? ` (${f.instanceId})` : ""}: ${f.reason}`).join("\n")

/**
 * The pool's key pair, its security group (unless `securityGroupIds` are given), its instance
 * profile (with `instanceProfile: "pool"`) and the sweeper of its instances, all released, in
 * reverse order, when the scope closes.
 */
export const poolResources = (
  prepared: Prepared,
  options: AwsProviderOptions,
  resolved: ResolvedAwsOptions,
  poolId: string
): Effect.Effect<PoolResources, AwsCallError, Scope.Scope> =>
  Effect.gen(function* () {
    const { ec2 } = prepared.clients
    const tags = poolTags(poolId, options.tags)
    const keyPair = yield* poolKeyPair(ec2, poolId, tags)
    const securityGroupIds =
      options.securityGroupIds !== undefined && options.securityGroupIds.length > 0
        ? options.securityGroupIds
        : [yield* poolSecurityGroup(ec2, poolId, prepared.network.vpcId, prepared.sshCidr!, tags)]
    const choice = prepared.instanceProfile
    const iamTags = tags.map((t) => ({ Key: t.Key!, Value: t.Value! }))
    const instanceProfile =
      choice === undefined
        ? undefined
        : choice._tag === "Existing"
          ? { nameOrArn: choice.nameOrArn, made: false }
          : { nameOrArn: yield* poolInstanceProfile(prepared.clients.iam, poolId, prepared.clients.region, choice.volumes, iamTags), made: true }
    // acquired last, released first: the instances are gone before the profile and the group go
    yield* instanceSweeper(ec2, poolId, resolved.pollIntervalMs, 5 * 60_000)
    return { poolId, keyPair, securityGroupIds, instanceProfile }
  })

/**
 * Launches the instances of nodes `indices`, waits until each is ready (running, SSH answering,
 * host key read) and prices them; each instance is terminated when the scope closes. Fails with
 * `InstancesFailed` naming every node that did not come up (the message says `outcome`: what the
 * caller does with the rest).
 */
export const launchNodes = (
  prepared: Prepared,
  options: AwsProviderOptions,
  resolved: ResolvedAwsOptions,
  seams: NodeSeams,
  pool: PoolResources,
  indices: ReadonlyArray<number>,
  outcome: string = POOL_TORN_DOWN
): Effect.Effect<ReadonlyArray<NodeInfo>, AwsCallError | InstancesFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const { ec2 } = prepared.clients
    const { poolId, keyPair } = pool
    const total = indices.length
    const launches = yield* Effect.forEach(
      indices,
      (index) =>
        launchInstance(ec2, {
          poolId,
          index,
          ami: prepared.ami,
          instanceType: prepared.instanceType,
          keyName: keyPair.name,
          securityGroupIds: pool.securityGroupIds,
          subnetId: prepared.network.subnetId,
          address: resolved.address,
          allocation: resolved.allocation,
          tags: poolTags(poolId, options.tags, `skyward-${poolId}-${index}`),
          ...(pool.instanceProfile === undefined ? {} : { instanceProfile: pool.instanceProfile }),
          userData: buildUserData({
            authorizedKey: keyPair.key.publicKey,
            loginUser: resolved.user,
            ttlMinutes: resolved.ttl,
            powerOffCommand: resolved.powerOffCommand
          })
        }).pipe(Effect.either),
      { concurrency: 8 }
    )
    const launchFailures: InstanceFailure[] = []
    const launched: Launched[] = []
    launches.forEach((result, i) =>
      result._tag === "Right" ? launched.push(result.right) : launchFailures.push({ index: indices[i]!, reason: result.left.message })
    )
    if (launchFailures.length > 0) return yield* new InstancesFailed({ failures: launchFailures, total, message: describeFailures(launchFailures, total, outcome) })

    const { ready, failures } = yield* waitReady(ec2, launched, {
      address: resolved.address,
      timeoutMs: resolved.bootTimeoutMs,
      pollMs: resolved.pollIntervalMs,
      probe: seams.probe,
      readHostKey: seams.hostKeyReader(ec2)
    })
    if (failures.length > 0) return yield* new InstancesFailed({ failures, total, message: describeFailures(failures, total, outcome) })
    // no failures: `ready` is in the order of `launched`
    const prices = yield* instancePrices(
      ec2,
      ready.map((instance, i) => ({
        region: prepared.clients.region,
        instanceType: prepared.instanceType,
        lifecycle: launched[i]!.lifecycle,
        availabilityZone: instance.availabilityZone
      })),
      options.onDemandPrices
    )

    return ready.map((instance, i): NodeInfo => {
      const launch = launched[i]!
      const ssh: SshTarget = { host: instance.host, port: 22, user: resolved.user, key: { data: keyPair.key.privateKey }, hostKey: instance.hostKey }
      return {
        index: launch.index,
        address: instance.host,
        data: {
          ssh,
          port: 22,
          user: resolved.user,
          instanceId: instance.instanceId,
          instanceType: prepared.instanceType,
          lifecycle: launch.lifecycle,
          ...(launch.fallbackReason === undefined ? {} : { spotFallback: launch.fallbackReason }),
          region: prepared.clients.region,
          privateIp: instance.privateIp,
          publicIp: instance.publicIp,
          availabilityZone: instance.availabilityZone,
          hostKey: instance.hostKey,
          // the agent reads S3 volumes as the instance's role (s3VolumeAccess sends no credentials)
          ...(pool.instanceProfile === undefined ? {} : { instanceProfile: pool.instanceProfile.nameOrArn })
        },
        ...(prices[i] === undefined ? {} : { price: prices[i] })
      }
    })
  })
