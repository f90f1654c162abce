import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect, Option } from "effect"
import { UsageError } from "./errors.js"
import { importWithJiti } from "./shared-packages.js"

/** The names `skyward run` looks for, in each folder from the current one up. */
export const CONFIG_NAMES = ["skyward.config.ts", "skyward.config.js", "skyward.config.mjs", "skyward.config.json"] as const

/** The config file a run uses: given with `--config`, or found from the current folder. */
export interface ConfigSource {
  readonly file: string
  readonly found: boolean
}

/**
 * The first folder from `start` up that holds a `skyward.config.{ts,js,mjs,json}`, and that file.
 * The search ends at the user's home folder (searched too) when `start` is inside it, else at the
 * filesystem root. Two config files in one folder are a UsageError: which one is meant is unclear.
 */
export const findConfigFile = (start: string, home: string = os.homedir()): Effect.Effect<string | undefined, UsageError> => {
  const top = path.resolve(home)
  for (let dir = path.resolve(start); ; ) {
    const here = CONFIG_NAMES.map((name) => path.join(dir, name)).filter((file) => fs.statSync(file, { throwIfNoEntry: false })?.isFile())
    if (here.length > 1)
      return Effect.fail(
        new UsageError({ message: `${dir} holds ${here.map((file) => path.basename(file)).join(" and ")}: keep one, or choose one with --config FILE` })
      )
    if (here.length === 1) return Effect.succeed(here[0])
    const parent = path.dirname(dir)
    if (dir === top || parent === dir) return Effect.succeed(undefined)
    dir = parent
  }
}

/**
 * Where pool options carry their config file (a symbol key: no pool option) from `poolOptionsFrom`
 * to `withProject`, which says which file the run uses.
 */
export const CONFIG_SOURCE: unique symbol = Symbol("skyward.configSource")

/** A one-line note on the config file a run uses, for progress output (`--json` too). */
export const configNote = (source: ConfigSource): string =>
  source.found ? `config file ${source.file} (found looking up from the current folder; --config FILE to use another)` : `config file ${source.file}`

/** `--config FILE` when given, else the config file found from the current folder (if any). */
export const configSourceOf = (flag: Option.Option<string>): Effect.Effect<ConfigSource | undefined, UsageError> =>
  Option.match(flag, {
    onSome: (file) => Effect.succeed({ file, found: false }),
    onNone: () => Effect.map(findConfigFile(process.cwd()), (file) => (file === undefined ? undefined : { file, found: true }))
  })

const asOptions = (value: unknown): Record<string, unknown> => {
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("it must export an object of pool options")
  return value as Record<string, unknown>
}

/** A JSON config: one object of pool options. */
const loadJson = async (file: string): Promise<Record<string, unknown>> => {
  const text = await fs.promises.readFile(file, "utf8")
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (cause) {
    throw new Error(`not valid JSON: ${(cause as Error).message}`)
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("it must hold one object of pool options")
  return value as Record<string, unknown>
}

/**
 * A TS or JS config, loaded with jiti (TypeScript without a build). Its imports of `@skyward/*` and
 * `effect` are the CLI's own modules, wherever the config is: no package.json or node_modules needed.
 */
const loadModule = async (file: string): Promise<Record<string, unknown>> => {
  const loaded = await importWithJiti(file)
  const value = (loaded as { default?: unknown }).default ?? loaded
  return asOptions(typeof value === "function" ? await (value as () => unknown)() : value)
}

/**
 * Loads `skyward.config.ts|js|mjs|json`: a JSON object, or a module whose default export (or the
 * module itself) holds pool options or a function returning them, as a vite.config.ts does. A
 * file that cannot be read, throws, or holds something else is a UsageError.
 */
export const loadConfigFile = (file: string): Effect.Effect<Record<string, unknown>, UsageError> =>
  Effect.tryPromise({
    try: () => (path.extname(file) === ".json" ? loadJson(path.resolve(file)) : loadModule(path.resolve(file))),
    catch: (cause) => new UsageError({ message: `config file ${file}: ${(cause as Error).message.split("\n")[0]}` })
  })
