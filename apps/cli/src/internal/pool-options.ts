import type { Plugin, PoolOptionsInput } from "@skyward/core"
import { Effect, Option } from "effect"
import { loadConfigFile } from "./config-file.js"
import { UsageError } from "./errors.js"
import { resolvePlugin } from "./plugins.js"

/** The pool-shaping flags of `skyward run`, as parsed. */
export interface PoolFlags {
  readonly provider: Option.Option<"local" | "ssh">
  readonly hosts: Option.Option<string>
  readonly identity: Option.Option<string>
  readonly "known-hosts": ReadonlyArray<string>
  readonly "trust-on-first-use": boolean
  readonly nodes: Option.Option<number>
  readonly concurrency: Option.Option<number>
  readonly executor: Option.Option<"process" | "thread">
  readonly plugin: ReadonlyArray<string>
  readonly pip: ReadonlyArray<string>
  readonly env: ReadonlyArray<string>
  readonly config: Option.Option<string>
  readonly timeout: Option.Option<number>
  readonly retries: Option.Option<number>
}

const parseEnv = (pairs: ReadonlyArray<string>) =>
  Effect.forEach(pairs, (pair) => {
    const at = pair.indexOf("=")
    return at > 0
      ? Effect.succeed([pair.slice(0, at), pair.slice(at + 1)] as const)
      : Effect.fail(new UsageError({ message: `--env ${JSON.stringify(pair)}: expected KEY=VALUE` }))
  }).pipe(Effect.map(Object.fromEntries))

type Loose = Record<string, unknown>

/** `--provider ssh --hosts ... --identity ...` as pool options (`nodes` defaults to the host count). */
const providerFrom = (flags: PoolFlags, base: Loose): Effect.Effect<Loose, UsageError> => {
  const provider = Option.getOrUndefined(flags.provider)
  if (provider !== "ssh") {
    if (Option.isSome(flags.hosts)) return Effect.fail(new UsageError({ message: "--hosts needs --provider ssh" }))
    return Effect.succeed({})
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
const asRecord = (value: unknown): Loose => (typeof value === "object" && value !== null ? (value as Loose) : {})

/**
 * Pool options from the config file (if any) with the flags on top; `--plugin` names are resolved
 * and appended to the config's plugins, `--pip` and `--env` extend the config's Image.
 */
export const poolOptionsFrom = (flags: PoolFlags): Effect.Effect<PoolOptionsInput, UsageError> =>
  Effect.gen(function* () {
    const base = Option.isSome(flags.config) ? yield* loadConfigFile(flags.config.value) : {}
    const plugins: Plugin[] = [...((base.plugins as Plugin[] | undefined) ?? []), ...(yield* Effect.forEach(flags.plugin, resolvePlugin))]
    const image = asRecord(base.image)
    const worker = asRecord(base.worker)
    const env = yield* parseEnv(flags.env)
    const provider = yield* providerFrom(flags, base)
    const merged: Loose = {
      ...base,
      ...provider,
      ...Option.match(flags.nodes, { onNone: () => ({}), onSome: (nodes) => ({ nodes }) }),
      ...Option.match(flags.timeout, { onNone: () => ({}), onSome: (timeout) => ({ timeout }) }),
      ...Option.match(flags.retries, { onNone: () => ({}), onSome: (retries) => ({ retries }) }),
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
      plugins
    }
    return merged as PoolOptionsInput
  })
