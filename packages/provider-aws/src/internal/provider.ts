import type { EC2Client } from "@aws-sdk/client-ec2"
import { type Cluster, ConfigError, type NodeInfo, Provider, type ProviderDefinition, ProviderError, type ProviderShape } from "@skyward/contracts"
import { SshTransportLayer, type SshTarget } from "@skyward/transport-ssh"
import { Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import { describeInstanceType, resolveAmi } from "./ami.js"
import { acquireClients, defaultClients, type AwsClients, type ClientFactory } from "./credentials.js"
import { consoleHostKeyReader, type HostKeyReader } from "./console-host-key.js"
import { InstancesFailed, type AwsCallError, type AwsSetupError, type InstanceFailure } from "./errors.js"
import { instanceSweeper, launchInstance, type Launched } from "./instances.js"
import { poolKeyPair } from "./key-pair.js"
import { chooseInstanceType, describeChoice, type InstanceChoice } from "./instance-choice.js"
import { instancePrices } from "./prices.js"
import { checkOptions, resolveOptions, type Allocation, type AwsProviderOptions, type ResolvedAwsOptions } from "./options.js"
import { defaultSshCidr, poolSecurityGroup, resolveNetwork, type Network } from "./security-group.js"
import { poolTags } from "./tags.js"
import { buildUserData } from "./user-data.js"
import { bannerProbe, waitReady, type SshProbe } from "./wait.js"

/**
 * Seams for tests: how SDK clients are made, how SSH reachability is checked, how an instance's
 * host key is read, where the public address is asked.
 */
export interface AwsProviderDeps {
  readonly clients?: ClientFactory
  readonly probe?: SshProbe
  /** Default: from each instance's console output (`consoleHostKeyReader`). */
  readonly hostKeyReader?: (ec2: EC2Client) => HostKeyReader
  /** The HTTP endpoint that answers with this machine's public IPv4 address. Default `CHECKIP_URL`. */
  readonly checkIpUrl?: string
}

/** What `prepare` learnt, for `provision`. */
interface Prepared {
  readonly clients: AwsClients
  /** The instance type named, or the one chosen for `vcpus`, `memory` and `gpu`. */
  readonly instanceType: string
  readonly ami: string
  readonly network: Network
  readonly sshCidr: string | undefined
}

const providerError = (message: string, cause?: unknown) =>
  new ProviderError({ provider: "aws", message, ...(cause === undefined ? {} : { cause }) })

const toPoolError = (e: AwsSetupError | AwsCallError | InstancesFailed | ConfigError): ConfigError | ProviderError =>
  e._tag === "ConfigError" ? e : e._tag === "AwsSetupError" ? new ConfigError({ field: e.field, message: e.message }) : providerError(e.message, e)

/** The message of a partial failure: which instances did not come up and why. */
export const describeFailures = (failures: ReadonlyArray<InstanceFailure>, total: number): string =>
  `${failures.length} of ${total} instance${total === 1 ? "" : "s"} did not come up, so the whole pool was torn down:\n` +
  failures.map((f) => `  node ${f.index}${f.instanceId ? ` (${f.instanceId})` : ""}: ${f.reason}`).join("\n")

const provisionIn = (
  prepared: Prepared,
  options: AwsProviderOptions,
  resolved: ResolvedAwsOptions,
  deps: { readonly probe: SshProbe; readonly hostKeyReader: (ec2: EC2Client) => HostKeyReader },
  poolId: string,
  nodes: number
): Effect.Effect<Cluster, AwsCallError | InstancesFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const { ec2 } = prepared.clients
    const tags = poolTags(poolId, options.tags)
    const keyPair = yield* poolKeyPair(ec2, poolId, tags)
    const groups =
      options.securityGroupIds !== undefined && options.securityGroupIds.length > 0
        ? options.securityGroupIds
        : [yield* poolSecurityGroup(ec2, poolId, prepared.network.vpcId, prepared.sshCidr!, tags)]
    yield* instanceSweeper(ec2, poolId, resolved.pollIntervalMs, 5 * 60_000)

    const launches = yield* Effect.forEach(
      Array.from({ length: nodes }, (_, index) => index),
      (index) =>
        launchInstance(ec2, {
          poolId,
          index,
          ami: prepared.ami,
          instanceType: prepared.instanceType,
          keyName: keyPair.name,
          securityGroupIds: groups,
          subnetId: prepared.network.subnetId,
          address: resolved.address,
          allocation: resolved.allocation,
          tags: poolTags(poolId, options.tags, `skyward-${poolId}-${index}`),
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
    launches.forEach((result, index) =>
      result._tag === "Right" ? launched.push(result.right) : launchFailures.push({ index, reason: result.left.message })
    )
    if (launchFailures.length > 0)
      return yield* new InstancesFailed({ failures: launchFailures, total: nodes, message: describeFailures(launchFailures, nodes) })

    const { ready, failures } = yield* waitReady(ec2, launched, {
      address: resolved.address,
      timeoutMs: resolved.bootTimeoutMs,
      pollMs: resolved.pollIntervalMs,
      probe: deps.probe,
      readHostKey: deps.hostKeyReader(ec2)
    })
    if (failures.length > 0) return yield* new InstancesFailed({ failures, total: nodes, message: describeFailures(failures, nodes) })
    const prices = yield* instancePrices(
      ec2,
      ready.map((instance, index) => ({
        region: prepared.clients.region,
        instanceType: prepared.instanceType,
        lifecycle: launched[index]!.lifecycle,
        availabilityZone: instance.availabilityZone
      })),
      options.onDemandPrices
    )

    const nodeInfos: NodeInfo[] = ready.map((instance, index) => {
      const launch = launched[index]!
      const ssh: SshTarget = { host: instance.host, port: 22, user: resolved.user, key: { data: keyPair.key.privateKey }, hostKey: instance.hostKey }
      return {
        index,
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
          hostKey: instance.hostKey
        },
        ...(prices[index] === undefined ? {} : { price: prices[index] })
      }
    })
    return { id: poolId, provider: "aws", nodes: nodeInfos }
  })

/** The first invalid option as a `ConfigError` naming it. */
const refuseInvalid = (options: AwsProviderOptions): Effect.Effect<void, ConfigError> => {
  const invalid = checkOptions(options)
  return invalid === undefined ? Effect.void : Effect.fail(new ConfigError({ field: `provider.${invalid[0]}`, message: `provider.${invalid[0]}: ${invalid[1]}` }))
}

/** What a pool of `nodes` would be on EC2, found without creating anything (`--dry-run`). */
export interface AwsPlan extends InstanceChoice {
  readonly region: string
  readonly allocation: Allocation
  readonly nodes: number
}

/**
 * The plan of a pool of `nodes`: the instance type (named, or the cheapest with `vcpus`, `memory`
 * and `gpu`), its size, how it is bought and its price per hour. Reads EC2's catalog and spot prices;
 * creates nothing.
 */
export const planAws = (options: AwsProviderOptions, nodes: number, deps: Pick<AwsProviderDeps, "clients"> = {}): Effect.Effect<AwsPlan, ConfigError | ProviderError> =>
  Effect.scoped(
    Effect.gen(function* () {
      yield* refuseInvalid(options)
      const resolved = resolveOptions(options)
      const { ec2, region } = yield* acquireClients(options, deps.clients ?? defaultClients)
      const choice =
        resolved.instanceType === undefined
          ? yield* chooseInstanceType(ec2, region, options, resolved.allocation, options.onDemandPrices)
          : yield* describeChoice(ec2, region, resolved.instanceType, resolved.allocation, options.onDemandPrices)
      return { ...choice, region, allocation: resolved.allocation, nodes }
    }).pipe(Effect.mapError((e) => (e._tag === "ConfigError" ? e : toPoolError(e))))
  )

/** The provider service; `prepare` must run before `provision` (the pool does so). */
export const makeAwsProvider = (options: AwsProviderOptions, deps: AwsProviderDeps = {}): ProviderShape => {
  const resolved = resolveOptions(options)
  const seams = { probe: deps.probe ?? bannerProbe, hostKeyReader: deps.hostKeyReader ?? consoleHostKeyReader }
  let prepared: Prepared | undefined
  return {
    name: "aws",
    prepare: () =>
      Effect.gen(function* () {
        yield* refuseInvalid(options)
        const clients = yield* acquireClients(options, deps.clients ?? defaultClients)
        const instanceType = resolved.instanceType ?? (yield* chooseInstanceType(clients.ec2, clients.region, options, resolved.allocation, options.onDemandPrices)).instanceType
        const facts = yield* describeInstanceType(clients.ec2, instanceType)
        const ami = yield* resolveAmi(clients, options.ami, resolved.amiParameter, facts)
        const network = yield* resolveNetwork(clients.ec2, options.subnetId)
        const ownGroup = options.securityGroupIds === undefined || options.securityGroupIds.length === 0
        const sshCidr = ownGroup ? (options.sshCidr ?? (yield* defaultSshCidr(resolved.address, network, deps.checkIpUrl))) : undefined
        prepared = { clients, instanceType, ami, network, sshCidr }
      }).pipe(Effect.mapError(toPoolError)),
    provision: ({ spec }) =>
      Effect.gen(function* () {
        if (prepared === undefined) return yield* providerError("provision before prepare: the pool must call prepare first")
        // everything is created in a child scope: on failure or interruption it is torn down
        // here, before the error is reported
        const parent = yield* Effect.scope
        const scope = yield* Scope.fork(parent, ExecutionStrategy.sequential)
        return yield* provisionIn(prepared, options, resolved, seams, spec.id, spec.nodes).pipe(
          Scope.extend(scope),
          Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit))),
          Effect.mapError(toPoolError)
        )
      }).pipe(Effect.mapError((e) => (e._tag === "ConfigError" ? providerError(e.message) : e)))
  }
}

/** The provider and its SSH transport as one layer (internal: with test seams). */
export const awsLayer = (options: AwsProviderOptions, deps: AwsProviderDeps = {}) =>
  Layer.merge(
    Layer.effect(Provider, Effect.sync(() => makeAwsProvider(options, deps))),
    SshTransportLayer({
      connectTimeout: options.connectTimeout ?? 60,
      ...(options.keepaliveInterval === undefined ? {} : { keepaliveInterval: options.keepaliveInterval }),
      ...(options.keepaliveCountMax === undefined ? {} : { keepaliveCountMax: options.keepaliveCountMax }),
      ...(options.retries === undefined ? {} : { retries: options.retries }),
      ...(options.install === undefined ? {} : { install: options.install }),
      ...(options.remoteRoot === undefined ? {} : { remoteRoot: options.remoteRoot }),
      // host keys are pinned per node (node.data.ssh.hostKey): no known_hosts file is consulted
      knownHostsFiles: []
    })
  )

/**
 * EC2 as a Skyward provider: per pool an ephemeral key pair, a security group open on port 22
 * to `sshCidr` only, and `nodes` instances (spot when available by default), all tagged
 * `skyward:pool=<id>` and `skyward:managed=true` and deleted, in reverse order, when the pool
 * closes, fails or is interrupted. Each instance makes its own SSH host key at boot and prints it
 * on its console; the provider reads it there (GetConsoleOutput) and the SSH transport pins it, so
 * no private key is ever in the user-data. A user-data watchdog powers off (and so terminates) an
 * instance left without an SSH session of the pool's login for `ttl` minutes.
 *
 * Credentials and region come from the AWS SDK's standard chain (environment, profile, SSO,
 * roles); a missing one is a `ConfigError` before anything is created.
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { aws } from "@skyward/provider-aws"
 * await ComputePool.use(
 *   { provider: aws({ region: "eu-west-1", instanceType: "c7i.xlarge" }), nodes: 4 },
 *   (pool) => pool.map("mymod:work", inputs)
 * )
 * ```
 */
export const aws = (options: AwsProviderOptions = {}): ProviderDefinition => ({
  name: "aws",
  layer: awsLayer(options),
  plan: (nodes) =>
    planAws(options, nodes).pipe(
      Effect.map((plan) => ({
        machine:
          `${plan.instanceType} (${plan.vcpus} vCPUs, ${plan.memoryGiB} GiB${plan.gpus === undefined ? "" : `, ${plan.gpus}`}), ` +
          `${plan.allocation}, ${plan.region}`,
        ...(plan.price === undefined ? {} : { price: plan.price })
      }))
    )
})
