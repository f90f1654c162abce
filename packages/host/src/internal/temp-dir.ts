import type { Stats } from "node:fs"
import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { Effect, type Scope } from "effect"
import { processExists } from "./process.js"

/** A real folder (not a link to one) owned by the user running this process. */
const isOwnFolder = (stat: Stats): boolean => stat.isDirectory() && stat.uid === (process.getuid?.() ?? stat.uid)

/** Names under `parent` of `<prefix>-<pid>-*` entries whose process is gone (a SIGKILLed process cannot remove its own). */
const orphanNames = async (prefix: string, parent: string): Promise<string[]> => {
  const pattern = new RegExp(`^${prefix.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-(\\d+)-`)
  const names = await fs.readdir(parent).catch(() => [] as string[])
  return names.filter((name) => {
    const pid = Number(pattern.exec(name)?.[1])
    return Number.isInteger(pid) && pid !== process.pid && !processExists(pid)
  })
}

/**
 * Removes `entry` when it is this user's own folder. It is first moved into `quarantine` (a 0700
 * folder of ours) and checked again there: what was checked is what is removed, since no one else
 * can swap it inside our folder. Anything else found there is put back.
 */
const removeOwnFolder = async (entry: string, quarantine: string): Promise<void> => {
  const before = await fs.lstat(entry).catch(() => undefined)
  if (before === undefined || !isOwnFolder(before)) return
  const held = path.join(quarantine, path.basename(entry))
  if (!(await fs.rename(entry, held).then(() => true, () => false))) return
  const after = await fs.lstat(held)
  if (after.dev !== before.dev || after.ino !== before.ino || !isOwnFolder(after)) return fs.rename(held, entry).catch(() => undefined)
  // fs.rm removes links, never what they point to
  await fs.rm(held, { recursive: true, force: true }).catch(() => undefined)
}

/** Removes this user's `<prefix>-<pid>-*` folders under `parent` whose process is gone; others' are left alone. */
const sweepOrphans = async (prefix: string, parent: string): Promise<void> => {
  const names = await orphanNames(prefix, parent)
  if (names.length === 0) return
  const quarantine = await fs.mkdtemp(path.join(parent, `${prefix}-${process.pid}-sweep-`)).catch(() => undefined)
  if (quarantine === undefined) return
  for (const name of names) await removeOwnFolder(path.join(parent, name), quarantine).catch(() => undefined)
  // rmdir, not rm: what could not be put back stays, rather than be removed unchecked
  await fs.rmdir(quarantine).catch(() => undefined)
}

/**
 * A private (0700) temp folder `<parent>/<prefix>-<pid>-XXXXXX`, removed when the scope closes.
 * This user's folders of the same prefix left by processes that died are removed first (moved
 * aside, then removed, without following links); other users' are left alone.
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
