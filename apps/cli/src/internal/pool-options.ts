import type { Plugin, PoolOptionsInput } from "@skyward/core"
import { Effect, Option } from "effect"
import { loadConfigFile } from "./config-file.js"
import { UsageError } from "./errors.js"
import { resolvePlugin } from "./plugins.js"

/** The pool-shaping flags of `skyward run`, as parsed. */
export interface PoolFlags {
  readonly provider: Option.Option<"local">
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
    const merged: Loose = {
      ...base,
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
