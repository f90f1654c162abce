import { Args, Command, Options } from "@effect/cli"
import { formatBytes } from "@skyward/contracts"
import { environmentsDir, listEnvironments, removeEnvironment, type CachedEnvironment } from "@skyward/provider-local"
import { Console, Effect, Option } from "effect"
import { UsageError } from "../errors.js"
import { entry, optionsOf } from "../option-table.js"
import { table } from "./aws-connection.js"

/** The options of `skyward cache` (help and docs show them in this order). */
export const CACHE_OPTION_TABLE = {
  "older-than": entry(
    "options",
    Options.text("older-than").pipe(
      Options.withDescription("prune: remove the environments not used for this long (30d, 12h, 90m; default 30d)."),
      Options.optional
    ),
    "AGE"
  ),
  all: entry("options", Options.boolean("all").pipe(Options.withDescription("prune: remove every environment, however recently used."))),
  json: entry("options", Options.boolean("json").pipe(Options.withDescription("One JSON object per environment.")))
}

/** What `skyward cache` does. */
export const CACHE_DESCRIPTION =
  "List the local workers' cached Python environments (size, last use), or prune those not used for a while (skyward cache prune --older-than 30d)."

/** The action argument's description. */
export const CACHE_ACTION_DESCRIPTION = "ls (the default) or prune."

const UNITS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 }
const DEFAULT_AGE = "30d"

/** `30d`, `12h`, `90m` as milliseconds; undefined when it is none of these. */
export const parseAge = (text: string): number | undefined => {
  const match = /^(\d+(?:\.\d+)?)\s*([mhd])$/.exec(text.trim())
  return match ? Number(match[1]) * UNITS[match[2]!]! : undefined
}

const ago = (date: Date, now: number): string => {
  const minutes = Math.max(0, Math.round((now - date.getTime()) / 60_000))
  return minutes < 90 ? `${minutes}m ago` : minutes < 48 * 60 ? `${Math.round(minutes / 60)}h ago` : `${Math.round(minutes / 1440)}d ago`
}

const packagesOf = (env: CachedEnvironment): string => (env.ready ? (env.pip.length === 0 ? "(the agent's only)" : env.pip.join(" ")) : "(unfinished)")

const asJson = (env: CachedEnvironment) =>
  JSON.stringify({ name: env.name, dir: env.dir, ownBytes: env.ownBytes, sharedBytes: env.sharedBytes, lastUsed: env.lastUsed.toISOString(), python: env.python ?? null, pip: env.pip, ready: env.ready })

const list = (json: boolean) =>
  Effect.gen(function* () {
    const envs = yield* Effect.promise(() => listEnvironments())
    if (json) {
      for (const env of envs) yield* Console.log(asJson(env))
      return
    }
    if (envs.length === 0) return yield* Console.log(`no cached environments in ${environmentsDir()}`)
    const now = Date.now()
    yield* Console.log(
      table([
        ["ENVIRONMENT", "OWN", "SHARED", "LAST USED", "PYTHON", "PACKAGES"],
        ...envs.map((env) => [env.name, formatBytes(env.ownBytes), formatBytes(env.sharedBytes), ago(env.lastUsed, now), env.python ?? "-", packagesOf(env)])
      ])
    )
    const own = envs.reduce((sum, env) => sum + env.ownBytes, 0)
    yield* Console.log(`\n${envs.length} environment${envs.length === 1 ? "" : "s"} in ${environmentsDir()}, ${formatBytes(own)} of their own; remove old ones with: skyward cache prune --older-than 30d`)
  })

const prune = (olderThan: Option.Option<string>, all: boolean, json: boolean) =>
  Effect.gen(function* () {
    const text = Option.getOrElse(olderThan, () => DEFAULT_AGE)
    const age = parseAge(text)
    if (age === undefined) return yield* new UsageError({ message: `--older-than ${JSON.stringify(text)}: expected an age such as 30d, 12h or 90m` })
    if (all && Option.isSome(olderThan)) return yield* new UsageError({ message: "--all and --older-than: choose one" })
    const now = Date.now()
    const stale = (yield* Effect.promise(() => listEnvironments())).filter((env) => all || now - env.lastUsed.getTime() > age)
    let freed = 0
    let removed = 0
    for (const env of stale) {
      const done = yield* Effect.promise(() => removeEnvironment(env).catch(() => false))
      if (json) yield* Console.log(JSON.stringify({ name: env.name, removed: done, ownBytes: env.ownBytes }))
      else yield* Console.log(done ? `removed ${env.name} (${formatBytes(env.ownBytes)}, last used ${ago(env.lastUsed, now)})` : `kept ${env.name}: it is being built`)
      if (done) {
        freed += env.ownBytes
        removed += 1
      }
    }
    if (!json) yield* Console.log(`${removed} environment${removed === 1 ? "" : "s"} removed, about ${formatBytes(freed)} freed`)
  })

/** `skyward cache [ls|prune]`: the local environments, and their removal. */
export const cacheCommand = Command.make(
  "cache",
  {
    ...optionsOf(CACHE_OPTION_TABLE),
    action: Args.choice([["ls", "ls"], ["prune", "prune"]] as const, { name: "action" }).pipe(Args.withDescription(CACHE_ACTION_DESCRIPTION), Args.optional)
  },
  (flags) => (Option.getOrElse(flags.action, () => "ls" as const) === "prune" ? prune(flags["older-than"], flags.all, flags.json) : list(flags.json))
).pipe(Command.withDescription(CACHE_DESCRIPTION))
