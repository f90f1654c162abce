import fs from "node:fs/promises"
import path from "node:path"
import { cacheRoot } from "@skyward/host"

/** The marker of a finished environment (written last by its build). */
export const READY_MARKER = ".skyward-ready"
/** Touched each time a pool uses an environment: its last use. */
const USED_MARKER = ".skyward-used"

/** Where the local environments live: `<cache>/envs/<image hash>-py<version>`. */
export const environmentsDir = (): string => path.join(cacheRoot(), "envs")

/** A cached local environment, as `skyward cache ls` shows it. */
export interface CachedEnvironment {
  readonly name: string
  readonly dir: string
  /** Bytes of its own: files no other environment shares (bytecode always: it names its environment's path). */
  readonly ownBytes: number
  /** Bytes of files it shares with other environments (hard links). */
  readonly sharedBytes: number
  readonly lastUsed: Date
  readonly python: string | undefined
  /** Its Image's pip requirements. */
  readonly pip: ReadonlyArray<string>
  /** False for a half-built one (a build that was interrupted, or is running). */
  readonly ready: boolean
}

interface Marker {
  readonly python?: string
  readonly pip?: ReadonlyArray<string>
}

/** Notes that a pool uses `dir` now (its last use, for `skyward cache prune`). */
export const markUsed = (dir: string): Promise<void> => fs.writeFile(path.join(dir, USED_MARKER), "", { mode: 0o600 }).catch(() => undefined)

const sizes = async (dir: string): Promise<{ own: number; shared: number }> => {
  let own = 0
  let shared = 0
  const seen = new Set<string>() // a venv's lib64 is a link to lib: each file once
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const stat = await fs.lstat(path.join(entry.parentPath, entry.name)).catch(() => undefined)
    if (stat === undefined || seen.has(`${stat.dev}:${stat.ino}`)) continue
    seen.add(`${stat.dev}:${stat.ino}`)
    if (stat.nlink > 1) shared += stat.size
    else own += stat.size
  }
  return { own, shared }
}

const lastUseOf = async (dir: string): Promise<Date> => {
  const used = await fs.stat(path.join(dir, USED_MARKER)).catch(() => undefined)
  const made = await fs.stat(path.join(dir, READY_MARKER)).catch(() => undefined)
  return used?.mtime ?? made?.mtime ?? (await fs.stat(dir)).mtime
}

/** The local environments in the cache, most recently used first. */
export const listEnvironments = async (root: string = environmentsDir()): Promise<CachedEnvironment[]> => {
  const names = await fs.readdir(root, { withFileTypes: true }).catch(() => [])
  const found = await Promise.all(
    names
      .filter((entry) => entry.isDirectory() && !entry.name.endsWith(".lock") && !entry.name.includes(".stale-"))
      .map(async (entry): Promise<CachedEnvironment> => {
        const dir = path.join(root, entry.name)
        const marker = await fs.readFile(path.join(dir, READY_MARKER), "utf8").then(
          (text) => JSON.parse(text) as Marker,
          () => undefined
        )
        const { own, shared } = await sizes(dir)
        return { name: entry.name, dir, ownBytes: own, sharedBytes: shared, lastUsed: await lastUseOf(dir), python: marker?.python, pip: marker?.pip ?? [], ready: marker !== undefined }
      })
  )
  return found.sort((a, b) => b.lastUsed.getTime() - a.lastUsed.getTime())
}

/**
 * Removes an environment and its lock folder. A half-built one whose build lock is held (a build
 * running now) is left: false then.
 */
export const removeEnvironment = async (environment: CachedEnvironment): Promise<boolean> => {
  const lock = `${environment.dir}.lock`
  if (!environment.ready && (await fs.stat(lock).catch(() => undefined)) !== undefined) return false
  // moved aside first: a pool starting now sees it gone, never half removed
  const aside = `${environment.dir}.stale-remove-${process.pid}`
  await fs.rename(environment.dir, aside)
  await fs.rm(aside, { recursive: true, force: true })
  await fs.rm(lock, { recursive: true, force: true })
  return true
}
