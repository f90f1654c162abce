import path from "node:path"
import { type EnvironmentMirror, local, mirrorEnvironment } from "@skyward/core"
import type { Plugin, PoolOptionsInput } from "@skyward/contracts"
import { joblib } from "@skyward/plugin-joblib"
import { Effect, Option } from "effect"
import { CONFIG_SOURCE, configNote, type ConfigSource } from "./config-file.js"
import { UsageError } from "./errors.js"

/** The flags of `skyward run` that say what travels with the script. */
export interface ProjectFlags {
  readonly workdir: Option.Option<string>
  readonly "no-workdir": boolean
  readonly "workdir-limit": Option.Option<string>
  readonly python: Option.Option<string>
}

/** The script's world as `skyward run` sets it up: the pool options that carry it and how the client starts. */
export interface Project {
  readonly options: PoolOptionsInput
  /** The client's environment when the workers mirror it (an active virtual environment, or `--python`). */
  readonly mirror: EnvironmentMirror | undefined
  /** What differs between the client and the workers, known before any node starts. */
  readonly notes: ReadonlyArray<string>
}

const UNITS: Readonly<Record<string, number>> = { "": 1, b: 1, k: 1024, kb: 1024, kib: 1024, m: 1024 ** 2, mb: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gb: 1024 ** 3, gib: 1024 ** 3 }

/** `--workdir-limit 500MiB` (also 500M, 500MB, 2G, a plain number of bytes; 1024-based) as bytes. */
export const parseSize = (text: string): number | undefined => {
  const found = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text)
  const unit = found ? UNITS[found[2]!.toLowerCase()] : undefined
  return found && unit !== undefined && Number(found[1]) > 0 ? Math.round(Number(found[1]) * unit) : undefined
}

/**
 * The client's Python when the workers should mirror it: `--python PATH`, else the active virtual
 * environment's (`$VIRTUAL_ENV/bin/python`); none otherwise (the Image makes the environment).
 */
export const clientPythonOf = (flag: Option.Option<string>): string | undefined =>
  Option.getOrUndefined(flag) ?? (process.env.VIRTUAL_ENV ? path.join(process.env.VIRTUAL_ENV, "bin", "python") : undefined)

/** `skyward run` always runs joblib on the pool: the joblib plugin is added unless a plugin of that name (or sklearn, built on it) is there. */
const withJoblib = (plugins: ReadonlyArray<Plugin>): Plugin[] =>
  plugins.some((p) => p.name === "joblib" || p.name === "sklearn") ? [...plugins] : [...plugins, joblib()]

type Loose = Record<string, unknown>

/**
 * Adds what travels with `script` to pool options: the working directory (the current one, or
 * `--workdir`; none with `--no-workdir`) with the script's folder first on the workers' `sys.path`,
 * the client's environment mirrored on the workers when there is one (its Python's version, its
 * distributions; local nodes make their environments from the same interpreter), and the joblib
 * plugin. `onLine` hears what takes time (wheels built for local packages).
 */
export const withProject = (
  options: PoolOptionsInput,
  flags: ProjectFlags,
  script: string | undefined,
  onLine: (line: string) => void
): Effect.Effect<Project, UsageError> =>
  Effect.gen(function* () {
    const { [CONFIG_SOURCE]: source, ...given } = options as Loose & { readonly [CONFIG_SOURCE]?: ConfigSource }
    const notes: string[] = []
    // a config file found by looking up from here is news even with --quiet; one given with --config is not
    if (source?.found) notes.push(configNote(source))
    else if (source !== undefined) onLine(configNote(source))
    if (flags["no-workdir"] && Option.isSome(flags.workdir))
      return yield* new UsageError({ message: "--workdir and --no-workdir: choose one" })
    const limitText = Option.getOrUndefined(flags["workdir-limit"])
    const limit = limitText === undefined ? undefined : parseSize(limitText)
    if (limitText !== undefined && limit === undefined)
      return yield* new UsageError({ message: `--workdir-limit ${JSON.stringify(limitText)}: expected a size such as 200MiB, 2G or 500000000` })
    // the flags, else the config file's `workdir`, else the current directory
    const chosen = flags["no-workdir"] ? false : Option.getOrElse(flags.workdir, () => (given.workdir as string | false | undefined) ?? process.cwd())
    const workdir = chosen === false ? false : path.resolve(chosen)
    // without a script (skyward up), the working directory itself is the scripts' folder
    const scriptFolder = script === undefined ? path.resolve(workdir || ".") : path.dirname(path.resolve(script))
    const scriptDir = path.relative(workdir || ".", scriptFolder)
    const scriptInside = workdir !== false && !scriptDir.startsWith("..") && !path.isAbsolute(scriptDir)
    if (workdir !== false && !scriptInside)
      notes.push(`the script's folder ${scriptFolder} is outside the working directory ${workdir}: its modules and files do not travel (run from the script's folder, or choose a folder that holds it with --workdir)`)

    const python = clientPythonOf(flags.python)
    const mirror = python === undefined ? undefined : yield* mirrorEnvironment(python, onLine).pipe(Effect.mapError((e) => new UsageError({ message: e.message })))
    const image = (given.image ?? {}) as Loose
    const minor = mirror?.version.split(".").slice(0, 2).join(".")
    if (mirror && image.python !== undefined && image.python !== minor && image.python !== "3")
      notes.push(`image.python ${String(image.python)} is replaced by the client's Python ${minor} (the workers mirror ${python})`)
    const provider = given.provider as { readonly name?: string } | undefined
    return {
      options: {
        ...given,
        ...(mirror && (provider === undefined || provider.name === "local") ? { provider: local({ python: mirror.baseInterpreter }) } : {}),
        image: mirror ? { ...image, python: minor, mirror: mirror.mirror } : image,
        plugins: withJoblib((given.plugins as Plugin[] | undefined) ?? []),
        workdir,
        ...(limit === undefined ? {} : { workdirLimit: limit }),
        sysPath: scriptInside ? [scriptDir.split(path.sep).join("/") || "."] : []
      } as PoolOptionsInput,
      mirror,
      notes: [...notes, ...(mirror?.notes ?? [])]
    }
  })
