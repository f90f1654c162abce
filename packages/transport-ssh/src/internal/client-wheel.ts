import fs from "node:fs/promises"
import path from "node:path"
import { runCommand } from "@skyward/host"
import { withPipIndexes } from "@skyward/worker"
import { Effect } from "effect"

/**
 * Builds a wheel of `requirement` on the client (`pip wheel --no-deps` into a new folder under
 * `dir`), for a mirrored project with no wheel for the node: many pure-Python projects on PyPI
 * publish only an sdist. Gives the wheel when it is pure Python (`*-none-any.whl`, which every node
 * installs), else `undefined` (no sdist either, or a build for this machine's platform only).
 */
export const buildPureWheel = (
  python: string,
  requirement: string,
  indexes: ReadonlyArray<string>,
  dir: string,
  onLine: (line: string) => void
): Effect.Effect<string | undefined> =>
  Effect.gen(function* () {
    const out = yield* Effect.promise(() => fs.mkdtemp(path.join(dir, "wheel-")))
    onLine(`building a wheel of ${requirement} on the client (no wheel of it for the node)`)
    const result = yield* runCommand(
      python,
      [
        "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
        "-w", out, requirement
      ],
      { onLine, env: withPipIndexes(process.env, indexes) }
    )
    if (result.code !== 0) return undefined
    const wheel = (yield* Effect.promise(() => fs.readdir(out))).find((name) => name.endsWith("-none-any.whl"))
    return wheel === undefined ? undefined : path.join(out, wheel)
  })
