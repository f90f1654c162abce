import fs from "node:fs"
import path from "node:path"
import { parseEnv as parseDotenv } from "node:util"
import { Effect } from "effect"
import { UsageError } from "./errors.js"

/** A shell-style variable name: what `--env`, `--env-file` and `envFile` accept as KEY. */
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/

const notAName = (where: string, key: string) =>
  new UsageError({ message: `${where}: ${JSON.stringify(key)} is not a valid variable name (letters, digits and _, not starting with a digit)` })

/**
 * One `--env` value as a `[KEY, VALUE]` pair: `KEY=VALUE`, or `KEY` alone, whose value is taken from
 * the environment `skyward run` runs in, so that it appears on no command line.
 */
const envFlagEntry = (arg: string): Effect.Effect<readonly [string, string], UsageError> => {
  const at = arg.indexOf("=")
  const key = at < 0 ? arg : arg.slice(0, at)
  if (!VARIABLE_NAME.test(key)) return Effect.fail(notAName("--env", key))
  if (at >= 0) return Effect.succeed([key, arg.slice(at + 1)] as const)
  const value = process.env[key]
  return value === undefined
    ? Effect.fail(
        new UsageError({
          message: `--env ${key}: ${key} is not set in the environment skyward run was started in: set it (export ${key}=...), or use --env ${key}=VALUE or --env-file`
        })
      )
    : Effect.succeed([key, value] as const)
}

const unreadable = (cause: unknown): string => {
  const error = cause as NodeJS.ErrnoException
  switch (error.code) {
    case "ENOENT":
      return "no such file"
    case "EISDIR":
      return "it is a directory"
    case "EACCES":
    case "EPERM":
      return "permission denied"
    default:
      return error.message
  }
}

/**
 * The variables of a dotenv file (`KEY=VALUE` lines, `#` comments, quoted values), read with Node's
 * `util.parseEnv`. `where` names the file's origin in errors (`--env-file "x.env"`): a file that
 * cannot be read, or whose keys are not variable names, is a UsageError.
 */
const readEnvFile = (file: string, where: string): Effect.Effect<Record<string, string>, UsageError> =>
  Effect.try({
    try: () => fs.readFileSync(file, "utf8"),
    catch: (cause) => new UsageError({ message: `${where}: cannot read it: ${unreadable(cause)}` })
  }).pipe(
    Effect.flatMap((text) => {
      const entries = Object.entries(parseDotenv(text)).flatMap(([key, value]) => (value === undefined ? [] : [[key, value] as const]))
      const bad = entries.find(([key]) => !VARIABLE_NAME.test(key))
      return bad ? Effect.fail(badLine(text, bad[0], where)) : Effect.succeed(Object.fromEntries(entries))
    })
  )

/**
 * A dotenv file's line that `util.parseEnv` made a bad key of (a line without `=` joins the next
 * one): named by its number, never by its content, which may be a secret.
 */
const badLine = (text: string, key: string, where: string) => {
  const start = key.split("\n")[0]!
  const line = start.trim() === "" ? 0 : text.split(/\r?\n/).findIndex((l) => l.includes(start)) + 1
  return new UsageError({
    message: `${where}: ${line > 0 ? `line ${line}` : "a line"} is not KEY=VALUE with a valid variable name (letters, digits and _, not starting with a digit)`
  })
}

/** A config file's `envFile` (a path or a list of them), resolved relative to the config file. */
const configEnvFiles = (value: unknown, config: string): Effect.Effect<ReadonlyArray<string>, UsageError> => {
  const files = value === undefined ? [] : typeof value === "string" ? [value] : value
  return Array.isArray(files) && files.every((file) => typeof file === "string")
    ? Effect.succeed(files.map((file: string) => path.resolve(path.dirname(config), file)))
    : Effect.fail(new UsageError({ message: `config file ${config}: envFile must be a file path or a list of them` }))
}

/** Where a run's Image variables come from. */
export interface EnvSources {
  /** The config file's path, if any, and its `envFile` (a path or a list, relative to it). */
  readonly config: string | undefined
  readonly envFile: unknown
  /** `--env-file` paths, in order. */
  readonly envFiles: ReadonlyArray<string>
  /** `--env` values: `KEY=VALUE` or `KEY`. */
  readonly env: ReadonlyArray<string>
}

/** The Image variables a run adds, and the env files they came from (absolute: they never travel with the working directory). */
export interface RunEnv {
  readonly env: Record<string, string>
  readonly files: ReadonlyArray<string>
}

/**
 * The Image variables the run adds, later ones winning: the config file's `envFile`s, the
 * `--env-file`s in order, then the `--env` flags.
 */
export const envOf = (given: EnvSources): Effect.Effect<RunEnv, UsageError> =>
  Effect.gen(function* () {
    const { config, envFile } = given
    const fromConfig = config === undefined ? [] : yield* configEnvFiles(envFile, config)
    const files = [
      ...fromConfig.map((file) => ({ file, where: `config file ${config}: envFile ${JSON.stringify(file)}` })),
      ...given.envFiles.map((file) => ({ file: path.resolve(file), where: `--env-file ${JSON.stringify(file)}` }))
    ]
    const fromFiles = yield* Effect.forEach(files, ({ file, where }) => readEnvFile(file, where))
    const fromFlags = yield* Effect.forEach(given.env, envFlagEntry)
    return { env: Object.assign({}, ...fromFiles, Object.fromEntries(fromFlags)) as Record<string, string>, files: files.map(({ file }) => file) }
  })
