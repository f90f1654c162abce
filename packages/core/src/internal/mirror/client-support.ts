import { createHash, randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { cacheRoot, runCommand } from "@skyward/host"
import { ConfigError, projectName } from "@skyward/contracts"

/** Packages installed for the client's Python, apart from its environment. */
export interface ClientSupport {
  /** The folder to put last on the client's PYTHONPATH. */
  readonly dir: string
  /** `name==version` of each package it holds: the workers get the same versions. */
  readonly pins: ReadonlyArray<string>
}

const DIST_INFO = /^(.+)-([^-]+)\.dist-info$/

const pinsIn = async (dir: string): Promise<string[]> =>
  (await fs.readdir(dir)).flatMap((name) => {
    const found = DIST_INFO.exec(name)
    return found ? [`${projectName(found[1]!)}==${found[2]}`] : []
  })

/**
 * Installs `requirements` (what the bridge needs and the client's environment lacks: cloudpickle,
 * cbor2, lz4) for the client's Python into `<cache>/client-support/<key>`, once, with `builder`
 * (a Python of the same version that has pip), so that the user's environment is never changed.
 */
export const ensureClientSupport = (
  requirements: ReadonlyArray<string>,
  builder: string,
  pythonVersion: string
): Effect.Effect<ClientSupport, ConfigError> =>
  Effect.gen(function* () {
    const key = createHash("sha256").update(JSON.stringify([...requirements].sort())).digest("hex").slice(0, 12)
    const dir = path.join(cacheRoot(), "client-support", `py${pythonVersion}-${key}`)
    const ready = yield* Effect.promise(() => pinsIn(dir).catch(() => [] as string[]))
    if (ready.length > 0) return { dir, pins: ready }
    const scratch = `${dir}.tmp-${randomBytes(4).toString("hex")}`
    const install = Effect.gen(function* () {
      const result = yield* runCommand(builder, ["-m", "pip", "install", "--disable-pip-version-check", "--no-input", "-q", "--target", scratch, ...requirements])
      if (result.code !== 0)
        return yield* new ConfigError({
          field: "python",
          message: `cannot install ${requirements.join(", ")} for the client's Python ${pythonVersion} (the bridge to the pool needs them): ${result.tail.split("\n").slice(-3).join(" ").trim()}`
        })
      // another run may have put the same folder in place meanwhile: theirs is as good
      yield* Effect.promise(() => fs.rename(scratch, dir).catch(() => undefined))
      return { dir, pins: yield* Effect.promise(() => pinsIn(dir)) }
    })
    return yield* install.pipe(Effect.ensuring(Effect.promise(() => fs.rm(scratch, { recursive: true, force: true }))))
  })
