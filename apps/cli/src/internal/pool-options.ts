import { local } from "@skyward/core"
import type { NodeCount, Plugin, PoolOptionsInput } from "@skyward/contracts"
import path from "node:path"
import { Effect, Option } from "effect"
import { envOf } from "./env-flags.js"
import { CONFIG_SOURCE, configSourceOf, loadConfigFile } from "./config-file.js"
import { configPlugins } from "./config-plugins.js"
import { UsageError } from "./errors.js"
import { parseIdle } from "./named-pools/duration.js"
import { parsePluginSpec } from "./plugin-spec.js"
import { resolvePlugin } from "./plugins.js"
import { parseSize } from "./project.js"

/** The pool-shaping flags of `skyward run`, as parsed. */
export interface PoolFlags {
  readonly provider: Option.Option<"local" | "ssh" | "aws">
  readonly hosts: Option.Option<string>
  readonly identity: Option.Option<string>
  readonly "known-hosts": ReadonlyArray<string>
  readonly "trust-on-first-use": boolean
  readonly region: Option.Option<string>
  readonly profile: Option.Option<string>
  readonly endpoint: Option.Option<string>
  readonly "instance-type": Option.Option<string>
  readonly vcpus: Option.Option<number>
  readonly memory: Option.Option<number>
  readonly gpu: Option.Option<string>
  readonly ami: Option.Option<string>
  readonly subnet: Option.Option<string>
  readonly "security-group": ReadonlyArray<string>
  readonly allocation: Option.Option<"spot" | "on-demand" | "spot-if-available">
  readonly ttl: Option.Option<number>
  readonly "ssh-cidr": Option.Option<string>
  readonly address: Option.Option<"public" | "private">
  readonly user: Option.Option<string>
  readonly "power-off-command": Option.Option<string>
  readonly "instance-profile": Option.Option<string>
  readonly nodes: Option.Option<string>
  readonly "scale-down-after": Option.Option<string>
  readonly volume: ReadonlyArray<string>
  readonly concurrency: Option.Option<number>
  readonly executor: Option.Option<"process" | "thread">
  readonly plugin: ReadonlyArray<string>
  readonly pip: ReadonlyArray<string>
  readonly env: ReadonlyArray<string>
  readonly "env-file": ReadonlyArray<string>
  readonly config: Option.Option<string>
  readonly timeout: Option.Option<number>
  readonly retries: Option.Option<number>
  readonly "argument-limit": Option.Option<string>
}

type Loose = Record<string, unknown>

/** `--nodes 4` or `--nodes 1..4` (an elastic pool); undefined when not given. */
const nodesOf = (flags: PoolFlags): Effect.Effect<NodeCount | undefined, UsageError> => {
  if (Option.isNone(flags.nodes)) return Effect.succeed(undefined)
  const text = flags.nodes.value.trim()
  const match = /^(\d+)(?:\.\.(\d+))?$/.exec(text)
  const [min, max] = [Number(match?.[1]), Number(match?.[2] ?? match?.[1])]
  if (match === null || min < 1 || max < min)
    return Effect.fail(
      new UsageError({ message: `--nodes ${JSON.stringify(text)}: expected a count such as 4, or MIN..MAX such as 1..4 (MIN at least 1, MAX at least MIN)` })
    )
  return Effect.succeed(match[2] === undefined ? min : { min, max })
}

/** `--volume s3://bucket/prefix:/data`, `--volume ./data:/data:rw`: a folder made absolute (from the current directory). */
const parseVolumeFlag = (text: string): Effect.Effect<{ source: string; path: string; writable: boolean }, UsageError> => {
  const match = /^(.+):(\/[^:]*)(?::(rw|ro))?$/.exec(text.trim())
  if (match === null)
    return Effect.fail(new UsageError({ message: `--volume ${JSON.stringify(text)}: expected SRC:PATH[:rw], such as s3://bucket/prefix:/data or ./data:/data` }))
  const [, source, target, mode] = match as unknown as [string, string, string, string | undefined]
  return Effect.succeed({ source: source.startsWith("s3://") ? source : path.resolve(source), path: target, writable: mode === "rw" })
}

/** How nodes read S3 volumes: the AWS set-up of --region/--profile/--endpoint, or of the environment. */
const s3AccessOf = (flags: PoolFlags) =>
  Effect.tryPromise({
    try: async () => {
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
      const { s3VolumeAccess } = await import("@skyward/provider-aws")
      return s3VolumeAccess({
        ...Option.match(flags.region, { onNone: () => ({}), onSome: (region) => ({ region }) }),
        ...Option.match(flags.profile, { onNone: () => ({}), onSome: (profile) => ({ profile }) }),
        // an S3 emulator or VPC endpoint for the nodes too: --endpoint, else the SDK's own variables
        ...Option.match(Option.orElse(flags.endpoint, () => Option.fromNullable(process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL)), {
          onNone: () => ({}),
          onSome: (endpoint) => ({ endpoint })
        })
      })
    },
    catch: (cause) => new UsageError({ message: `--volume: cannot load @skyward/provider-aws: ${(cause as Error).message}` })
  })

/** `--scale-down-after 90s` in seconds; undefined when not given. */
const scaleDownAfterOf = (flags: PoolFlags): Effect.Effect<number | undefined, UsageError> => {
  if (Option.isNone(flags["scale-down-after"])) return Effect.succeed(undefined)
  const ms = parseIdle(flags["scale-down-after"].value)
  return typeof ms === "number"
    ? Effect.succeed(ms / 1000)
    : Effect.fail(new UsageError({ message: `--scale-down-after ${JSON.stringify(flags["scale-down-after"].value)}: expected a duration such as 90s, 2m or 1h` }))
}

/** The `--provider aws` flags that were given, as `aws()` options (CLI flag name → option). */
const awsOptionsOf = (flags: PoolFlags) => {
  const given: Array<[flag: string, option: string, value: unknown]> = []
  const add = (flag: keyof PoolFlags, option: string) => {
    const value = flags[flag] as Option.Option<unknown>
    if (Option.isSome(value)) given.push([flag, option, value.value])
  }
  add("region", "region")
  add("profile", "profile")
  add("endpoint", "endpoint")
  add("instance-type", "instanceType")
  add("vcpus", "vcpus")
  add("memory", "memory")
  add("gpu", "gpu")
  add("ami", "ami")
  add("subnet", "subnetId")
  if (flags["security-group"].length > 0) given.push(["security-group", "securityGroupIds", flags["security-group"]])
  add("allocation", "allocation")
  add("ttl", "ttl")
  add("ssh-cidr", "sshCidr")
  add("address", "address")
  add("user", "user")
  add("power-off-command", "powerOffCommand")
  add("instance-profile", "instanceProfile")
  return given
}

/** `--provider aws --region ...` as pool options. */
const awsProviderFrom = (flags: PoolFlags): Effect.Effect<Loose, UsageError> =>
  Effect.tryPromise({
    try: async () => {
      // the SDK's notice about future Node versions is noise on a command line
      process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"
      const { aws, checkOptions } = await import("@skyward/provider-aws")
      const given = awsOptionsOf(flags)
      const options = Object.fromEntries(given.map(([, option, value]) => [option, value]))
      const invalid = checkOptions(options)
      if (invalid) {
        const flag = given.find(([, option]) => option === invalid[0])?.[0] ?? invalid[0]
        throw new Error(`--${flag}: ${invalid[1]}`)
      }
      return { provider: aws(options) }
    },
    catch: (cause) => new UsageError({ message: (cause as Error).message })
  })

/**
 * `--provider ssh --hosts ... --identity ...` (`nodes` defaults to the host count) or
 * `--provider aws --region ...` as pool options.
 */
const providerFrom = (flags: PoolFlags, base: Loose): Effect.Effect<Loose, UsageError> => {
  const provider = Option.getOrUndefined(flags.provider)
  if (provider !== "aws") {
    const stray = awsOptionsOf(flags)[0]
    if (stray) return Effect.fail(new UsageError({ message: `--${stray[0]} needs --provider aws` }))
  } else {
    const sshOnly = [
      ["hosts", Option.isSome(flags.hosts)],
      ["identity", Option.isSome(flags.identity)],
      ["known-hosts", flags["known-hosts"].length > 0],
      ["trust-on-first-use", flags["trust-on-first-use"]]
    ].find(([, given]) => given)
    // aws instances get a fresh login key and pinned host keys: the ssh provider's flags do not apply
    if (sshOnly) return Effect.fail(new UsageError({ message: `--${sshOnly[0]} needs --provider ssh` }))
    return awsProviderFrom(flags)
  }
  if (provider !== "ssh") {
    if (Option.isSome(flags.hosts)) return Effect.fail(new UsageError({ message: "--hosts needs --provider ssh" }))
    // `--provider local` overrides a config file's provider (a local one from the config is kept as it is)
    const configured = (base.provider as { readonly name?: unknown } | undefined)?.name
    return Effect.succeed(provider === "local" && configured !== undefined && configured !== "local" ? { provider: local() } : {})
  }
  if (Option.isNone(flags.hosts)) return Effect.fail(new UsageError({ message: "--provider ssh needs --hosts user@host:port,..." }))
  return Effect.tryPromise({
    try: async () => {
      const { parseHostList, ssh } = await import("@skyward/provider-ssh")
      const hosts = parseHostList(flags.hosts.pipe(Option.getOrThrow))
      const providerOptions = {
        hosts,
        ...Option.match(flags.identity, { onNone: () => ({}), onSome: (key) => ({ key }) }),
        ...(flags["known-hosts"].length > 0 ? { knownHostsFiles: flags["known-hosts"] } : {}),
        ...(flags["trust-on-first-use"] ? { trustOnFirstUse: true } : {})
      }
      return { provider: ssh(providerOptions), ...(Option.isNone(flags.nodes) && base.nodes === undefined ? { nodes: hosts.length } : {}) }
    },
    catch: (cause) => new UsageError({ message: `--hosts: ${(cause as Error).message}` })
  })
}

/** `--argument-limit 2GiB` as bytes (undefined when not given). */
const argumentLimitOf = (flags: PoolFlags): Effect.Effect<number | undefined, UsageError> => {
  const text = Option.getOrUndefined(flags["argument-limit"])
  const bytes = text === undefined ? undefined : parseSize(text)
  return text !== undefined && bytes === undefined
    ? Effect.fail(new UsageError({ message: `--argument-limit ${JSON.stringify(text)}: expected a size such as 2GiB, 500M or 100000000` }))
    : Effect.succeed(bytes)
}

const asRecord = (value: unknown): Loose => (typeof value === "object" && value !== null ? (value as Loose) : {})

/** `--plugin NAME[:key=value,...]` values as plugins, in order. */
const flagPlugins = (values: ReadonlyArray<string>): Effect.Effect<ReadonlyArray<Plugin>, UsageError> =>
  Effect.forEach(values, (value) => Effect.flatMap(parsePluginSpec(value), resolvePlugin))

/**
 * Pool options from the config file (`--config`, else one found from the current folder up; see
 * ./config-file.ts) with the flags on top; the config's plugin names and the `--plugin` values are
 * resolved, the latter appended; `--pip`, `--env` and `--env-file` (and the config's own `envFile`,
 * which is no pool option) extend the config's Image. The config file used rides along under
 * {@link CONFIG_SOURCE}.
 */
export const poolOptionsFrom = (flags: PoolFlags): Effect.Effect<PoolOptionsInput, UsageError> =>
  Effect.gen(function* () {
    const source = yield* configSourceOf(flags.config)
    const { envFile, plugins: configured, ...base } = source === undefined ? {} : yield* loadConfigFile(source.file)
    const plugins: Plugin[] = [...(yield* configPlugins(configured, source?.file)), ...(yield* flagPlugins(flags.plugin))]
    const image = asRecord(base.image)
    const worker = asRecord(base.worker)
    const { env, files: envFiles } = yield* envOf({ config: source?.file, envFile, envFiles: flags["env-file"], env: flags.env })
    const provider = yield* providerFrom(flags, base)
    const argumentLimit = yield* argumentLimitOf(flags)
    const nodes = yield* nodesOf(flags)
    const scaleDownAfter = yield* scaleDownAfterOf(flags)
    const volumes = yield* Effect.forEach(flags.volume, parseVolumeFlag)
    const merged: Loose = {
      ...base,
      ...provider,
      ...(nodes === undefined ? {} : { nodes }),
      ...(scaleDownAfter === undefined ? {} : { scaleDownAfter }),
      ...(volumes.length === 0 ? {} : { volumes: [...((base.volumes as unknown[] | undefined) ?? []), ...volumes] }),
      ...(volumes.some((v) => v.source.startsWith("s3://")) ? { volumeAccess: yield* s3AccessOf(flags) } : {}),
      ...Option.match(flags.timeout, { onNone: () => ({}), onSome: (timeout) => ({ timeout }) }),
      ...Option.match(flags.retries, { onNone: () => ({}), onSome: (retries) => ({ retries }) }),
      ...(argumentLimit === undefined ? {} : { argumentLimit }),
      worker: {
        ...worker,
        ...Option.match(flags.concurrency, { onNone: () => ({}), onSome: (concurrency) => ({ concurrency }) }),
        ...Option.match(flags.executor, { onNone: () => ({}), onSome: (executor) => ({ executor }) })
      },
      image: {
        ...image,
        pip: [...((image.pip as string[] | undefined) ?? []), ...flags.pip],
        env: { ...asRecord(image.env), ...env }
      },
      plugins,
      // env files hold secrets: they stay behind when the working directory travels
      ...(envFiles.length === 0 ? {} : { workdirExclude: [...((base.workdirExclude as string[] | undefined) ?? []), ...envFiles] }),
      ...(source === undefined ? {} : { [CONFIG_SOURCE]: source })
    }
    return merged as PoolOptionsInput
  })
