import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { Effect, type Scope } from "effect"

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" // exists, belongs to someone else
  }
}

/** Removes `<prefix>-<pid>-*` folders under `parent` whose process is gone (a SIGKILLed process cannot remove its own). */
const sweepOrphans = async (prefix: string, parent: string): Promise<void> => {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-`)
  const names = await fs.readdir(parent).catch(() => [] as string[])
  await Promise.all(
    names.map(async (name) => {
      const pid = Number(pattern.exec(name)?.[1])
      if (Number.isInteger(pid) && pid !== process.pid && !isAlive(pid))
        await fs.rm(path.join(parent, name), { recursive: true, force: true }).catch(() => undefined)
    })
  )
}

/**
 * A private (0700) temp folder `<parent>/<prefix>-<pid>-XXXXXX`, removed when the scope closes.
 * Folders of the same prefix left by processes that died are removed first.
 */
export const ownedTempDir = (prefix: string, parent: string = os.tmpdir()): Effect.Effect<string, Error, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.tryPromise({
      try: async () => {
        await sweepOrphans(prefix, parent)
        return fs.mkdtemp(path.join(parent, `${prefix}-${process.pid}-`))
      },
      catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
    }),
    (dir) => Effect.promise(() => fs.rm(dir, { recursive: true, force: true }))
  )
