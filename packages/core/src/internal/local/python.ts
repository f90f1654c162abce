import { execFile } from "node:child_process"
import { promisify } from "node:util"
import { Effect, Either } from "effect"
import { ConfigError } from "../errors.js"

const run = promisify(execFile)

/** A Python interpreter found on this machine. */
export interface LocalPython {
  readonly executable: string
  readonly version: string
}

const probe = (executable: string) =>
  Effect.tryPromise(() =>
    run(executable, ["-c", "import sys, venv; print('%d.%d.%d' % sys.version_info[:3])"], { timeout: 20_000 })
  ).pipe(
    Effect.map(({ stdout }) => ({ executable, version: stdout.trim() })),
    Effect.option
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
