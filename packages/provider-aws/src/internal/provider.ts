import type { EC2Client } from "@aws-sdk/client-ec2"
import {
  type Cluster,
  ConfigError,
  Provider,
  type ProviderDefinition,
  ProviderError,
  type ProviderShape,
  s3Location,
  type Volume
} from "@skyward/contracts"
import { SshTransportLayer } from "@skyward/transport-ssh"
import { Effect, ExecutionStrategy, Exit, Layer, Scope } from "effect"
import { describeInstanceType, resolveAmi } from "./ami.js"
import { acquireClients, defaultClients, type ClientFactory } from "./credentials.js"
import { consoleHostKeyReader, type HostKeyReader } from "./console-host-key.js"
import type { AwsCallError, AwsSetupError, InstancesFailed } from "./errors.js"
import { chooseInstanceType, describeChoice, type InstanceChoice } from "./instance-choice.js"
import type { InstanceProfileChoice } from "./instance-profile.js"
import { launchNodes, poolResources, type NodeSeams, type PoolResources, type Prepared } from "./nodes.js"
import { checkOptions, resolveOptions, type Allocation, type AwsProviderOptions, type ResolvedAwsOptions } from "./options.js"
import { defaultSshCidr, resolveNetwork } from "./security-group.js"
import { bannerProbe, type SshProbe } from "./wait.js"

/** The message of a partial failure: which instances did not come up and why. */
export { describeFailures } from "./nodes.js"

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

const providerError = (message: string, cause?: unknown) =>
  new ProviderError({ provider: "aws", message, ...(cause === undefined ? {} : { cause }) })

const toPoolError = (e: AwsSetupError | AwsCallError | InstancesFailed | ConfigError): ConfigError | ProviderError =>
  e._tag === "ConfigError" ? e : e._tag === "AwsSetupError" ? new ConfigError({ field: e.field, message: e.message }) : providerError(e.message, e)

/**
 * Runs `effect` in a child scope of the current one: on failure or interruption what it made is
 * released there, before the error is reported; on success it stays until the current scope closes.
 */
const inChildScope = <A, E>(effect: Effect.Effect<A, E, Scope.Scope>): Effect.Effect<A, E, Scope.Scope> =>
  Effect.gen(function* () {
    const scope = yield* Scope.fork(yield* Effect.scope, ExecutionStrategy.sequential)
    return yield* effect.pipe(
      Scope.extend(scope),
      Effect.onExit((exit) => (Exit.isSuccess(exit) ? Effect.void : Scope.close(scope, exit)))
    )
  })

/** The pool's resources and its first `nodes` instances. */
const provisionIn = (
  prepared: Prepared,
  options: AwsProviderOptions,
  resolved: ResolvedAwsOptions,
  seams: NodeSeams,
  poolId: string,
  nodes: number
): Effect.Effect<{ readonly cluster: Cluster; readonly pool: PoolResources }, AwsCallError | InstancesFailed, Scope.Scope> =>
  Effect.gen(function* () {
    const pool = yield* poolResources(prepared, options, resolved, poolId)
    const nodeInfos = yield* launchNodes(prepared, options, resolved, seams, pool, Array.from({ length: nodes }, (_, index) => index))
    return { cluster: { id: poolId, provider: "aws", nodes: nodeInfos }, pool }
  })

/** The first invalid option as a `ConfigError` naming it. */
const refuseInvalid = (options: AwsProviderOptions): Effect.Effect<void, ConfigError> => {
  const invalid = checkOptions(options)
  return invalid === undefined ? Effect.void : Effect.fail(new ConfigError({ field: `provider.${invalid[0]}`, message: `provider.${invalid[0]}: ${invalid[1]}` }))
}

/** The instances' role as `instanceProfile` asks; "pool" without an S3 volume is a `ConfigError`. */
const instanceProfileChoice = (options: AwsProviderOptions, volumes: ReadonlyArray<Volume>): Effect.Effect<InstanceProfileChoice | undefined, ConfigError> => {
  const profile = options.instanceProfile
  if (profile === undefined) return Effect.succeed(undefined)
  if (profile !== "pool") return Effect.succeed({ _tag: "Existing", nameOrArn: profile })
  const s3 = volumes.filter((v) => s3Location(v.source) !== undefined)
  return s3.length === 0
    ? Effect.fail(
        new ConfigError({
          field: "provider.instanceProfile",
          message:
            'provider.instanceProfile: "pool" makes a role that reads the pool\'s S3 volumes, but the pool has no s3:// volume: ' +
            'add one (volumes: [{ source: "s3://bucket/prefix", path: "/data" }]) or leave instanceProfile out'
        })
      )
    : Effect.succeed({ _tag: "Pool", volumes: s3 })
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

/**
 * The provider service; `prepare` must run before `provision`, and `provision` before `addNode`
 * (the pool does so). `addNode` launches one more instance with the pool's key pair and security
 * group; closing its scope terminates that instance alone.
 */
export const makeAwsProvider = (options: AwsProviderOptions, deps: AwsProviderDeps = {}): ProviderShape => {
  const resolved = resolveOptions(options)
  const seams = { probe: deps.probe ?? bannerProbe, hostKeyReader: deps.hostKeyReader ?? consoleHostKeyReader }
  let prepared: Prepared | undefined
  /** The open pool's resources, once `provision` made them. */
  let pool: PoolResources | undefined
  return {
    name: "aws",
    prepare: ({ spec }) =>
      Effect.gen(function* () {
        yield* refuseInvalid(options)
        const instanceProfile = yield* instanceProfileChoice(options, spec.volumes)
        const clients = yield* acquireClients(options, deps.clients ?? defaultClients)
        const instanceType = resolved.instanceType ?? (yield* chooseInstanceType(clients.ec2, clients.region, options, resolved.allocation, options.onDemandPrices)).instanceType
        const facts = yield* describeInstanceType(clients.ec2, instanceType)
        const ami = yield* resolveAmi(clients, options.ami, resolved.amiParameter, facts)
        const network = yield* resolveNetwork(clients.ec2, options.subnetId)
        const ownGroup = options.securityGroupIds === undefined || options.securityGroupIds.length === 0
        const sshCidr = ownGroup ? (options.sshCidr ?? (yield* defaultSshCidr(resolved.address, network, deps.checkIpUrl))) : undefined
        prepared = { clients, instanceType, ami, network, sshCidr, instanceProfile }
      }).pipe(Effect.mapError(toPoolError)),
    provision: ({ spec }) =>
      Effect.gen(function* () {
        if (prepared === undefined) return yield* providerError("provision before prepare: the pool must call prepare first")
        const made = yield* inChildScope(provisionIn(prepared, options, resolved, seams, spec.id, spec.nodes)).pipe(Effect.mapError(toPoolError))
        pool = made.pool
        // the pool's resources are released when this scope closes: no node may be added after
        yield* Effect.addFinalizer(() => Effect.sync(() => (pool = undefined)))
        return made.cluster
      }).pipe(Effect.mapError((e) => (e._tag === "ConfigError" ? providerError(e.message) : e))),
    addNode: ({ spec, index }) =>
      Effect.gen(function* () {
        if (prepared === undefined || pool === undefined) return yield* providerError("addNode before provision: the pool must be provisioned first")
        if (pool.poolId !== spec.id) return yield* providerError(`addNode for pool ${spec.id}, but this provider provisioned pool ${pool.poolId}`)
        const [node] = yield* inChildScope(launchNodes(prepared, options, resolved, seams, pool, [index], "so it was terminated")).pipe(
          Effect.mapError(toPoolError)
        )
        return node!
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
 * instance left without an SSH session of the pool's login for `ttl` minutes. An elastic pool
 * (`nodes: { min, max }`) gets each node it adds (to grow, or to replace a lost one such as a
 * reclaimed spot instance) as one more instance with the pool's key pair and group.
 *
 * Credentials and region come from the AWS SDK's standard chain (environment, profile, SSO,
 * roles); a missing one is a `ConfigError` before anything is created.
 *
 * `instanceProfile` gives the instances a role (for the pool's S3 volumes): an existing instance
 * profile by name or ARN, or `"pool"`: a role `skyward-<id>` reading the pool's `s3://` volumes and
 * an instance profile holding it, made for the pool and deleted with it.
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
