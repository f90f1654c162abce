import { execFile } from "node:child_process"
import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { promisify } from "node:util"
import { Effect, Either } from "effect"
import { ConfigError } from "@skyward/contracts"
import { cacheRoot } from "./cache.js"

const run = promisify(execFile)

/** A Python interpreter found on this machine. */
export interface LocalPython {
  readonly executable: string
  readonly version: string
}

const readOr = (file: string, fallback: string): Promise<string> => fs.readFile(file, "utf8").catch(() => fallback)

/** The version files a shim (pyenv, asdf) picks its interpreter from: in this folder or above, and the global one. */
const shimSelection = async (): Promise<string> => {
  const found: string[] = [process.env.PYENV_VERSION ?? "", process.env.ASDF_PYTHON_VERSION ?? ""]
  for (let dir = process.cwd(); ; dir = path.dirname(dir)) {
    for (const name of [".python-version", ".tool-versions"]) found.push(await readOr(path.join(dir, name), ""))
    if (path.dirname(dir) === dir) break
  }
  found.push(await readOr(path.join(process.env.PYENV_ROOT ?? path.join(os.homedir(), ".pyenv"), "version"), ""))
  return found.join("|")
}

/**
 * Where `name` resolves on PATH (or itself, when it is a path), and what decides which Python it
 * runs: the file itself, plus the version files when it is a script (a pyenv or asdf shim).
 */
const resolveExecutable = async (name: string): Promise<{ identity: string } | undefined> => {
  const dirs = name.includes("/") ? [""] : (process.env.PATH ?? "").split(path.delimiter).filter(Boolean)
  for (const dir of dirs) {
    try {
      const file = await fs.realpath(dir === "" ? name : path.join(dir, name))
      const stat = await fs.stat(file)
      if (!stat.isFile() || (stat.mode & 0o111) === 0) continue
      const handle = await fs.open(file)
      const head = await handle.read(Buffer.alloc(2), 0, 2, 0).finally(() => handle.close())
      const script = head.buffer.toString("latin1", 0, head.bytesRead) === "#!"
      return { identity: `${file}|${stat.size}|${stat.mtimeMs}${script ? `|${await shimSelection()}` : ""}` }
    } catch {
      // not in this folder
    }
  }
  return undefined
}

/** Probed interpreter versions by identity, kept in the cache: probing one is a Python start-up (~0.1 s). */
const probesFile = () => path.join(cacheRoot(), "interpreters.json")

const readProbes = (): Promise<Record<string, string>> =>
  fs.readFile(probesFile(), "utf8").then(
    (text) => JSON.parse(text) as Record<string, string>,
    () => ({})
  )

const rememberProbe = async (identity: string, version: string): Promise<void> => {
  const probes = { ...(await readProbes()), [identity]: version }
  const temporary = `${probesFile()}.${process.pid}`
  await fs.mkdir(path.dirname(temporary), { recursive: true })
  await fs.writeFile(temporary, JSON.stringify(probes))
  await fs.rename(temporary, probesFile()) // atomic: pools starting together never read half a file
}

const probe = (executable: string) =>
  Effect.tryPromise(async () => {
    const resolved = await resolveExecutable(executable)
    const known = resolved && (await readProbes())[resolved.identity]
    if (known) return { executable, version: known }
    const { stdout } = await run(executable, ["-c", "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])"], { timeout: 20_000 })
    const version = stdout.trim()
    if (resolved) await rememberProbe(resolved.identity, version).catch(() => undefined)
    return { executable, version }
  }).pipe(Effect.option)

/**
 * The interpreter at `executable` (a path or a name on PATH) when its version is `wanted` ("3",
 * "3.11") or starts with it: the local provider's `python` option, a mirrored client's base.
 */
export const pythonAt = (executable: string, wanted: string): Effect.Effect<LocalPython, ConfigError> =>
  Effect.flatMap(probe(executable), (found) =>
    found._tag === "Some" && (found.value.version + ".").startsWith(wanted + ".")
      ? Effect.succeed(found.value)
      : Effect.fail(
          new ConfigError({
            field: "python",
            message:
              found._tag === "Some"
                ? `${executable} is Python ${found.value.version}, and the Image asks for Python ${wanted}`
                : `${executable} does not run as a Python 3 with the venv module (Debian/Ubuntu: apt-get install python3-venv)`
          })
        )
  )

/**
 * Finds the interpreter for an Image's `python` ("3" or "3.11"): `$SKYWARD_PYTHON`, then
 * `python3.11`, then `python3` when its version matches.
 */
export const findLocalPython = (wanted: string): Effect.Effect<LocalPython, ConfigError> =>
  Effect.suspend(() => {
    const key = `${process.env.SKYWARD_PYTHON ?? ""}|${wanted}`
    let search = searches.get(key)
    if (search === undefined) {
      search = Effect.runPromise(Effect.either(searchPython(wanted)))
      searches.set(key, search)
    }
    const pending = search
    return Effect.promise(() => pending).pipe(
      Effect.flatMap((result) => {
        if (Either.isLeft(result)) searches.delete(key) // a failed search is tried again next time
        return result
      })
    )
  })

/** Searches started by this process (nodes of one pool ask together): each probe is a Python start-up. */
const searches = new Map<string, Promise<Either.Either<LocalPython, ConfigError>>>()

const searchPython = (wanted: string): Effect.Effect<LocalPython, ConfigError> =>
  Effect.gen(function* () {
    const candidates = [process.env.SKYWARD_PYTHON, wanted === "3" ? undefined : `python${wanted}`, "python3"]
    for (const candidate of candidates) {
      if (candidate === undefined || candidate === "") continue
      const found = yield* probe(candidate)
      if (found._tag === "Some" && (found.value.version + ".").startsWith(wanted + ".")) return found.value
    }
    return yield* new ConfigError({
      field: "image.python",
      message: `image.python: no Python ${wanted} with the venv module on this machine (tried ${candidates.filter(Boolean).join(", ")}); install it or set SKYWARD_PYTHON`
    })
  })
