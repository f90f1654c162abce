import type { Stats } from "node:fs"
import fs from "node:fs/promises"
import path from "node:path"
import { sha256File } from "@skyward/host"

/** A regular file of an environment's site-packages, by its path there. */
interface Candidate {
  readonly file: string
  readonly stat: Stats
}

/** `lib/pythonX.Y/site-packages` of a virtual environment, if it has one. */
const sitePackagesOf = async (env: string): Promise<string | undefined> => {
  const lib = path.join(env, "lib")
  const pythons = await fs.readdir(lib).catch(() => [] as string[])
  const name = pythons.find((entry) => entry.startsWith("python"))
  return name === undefined ? undefined : path.join(lib, name, "site-packages")
}

/** Every regular file under `dir` (links not followed), keyed by its relative path and size. */
const indexFiles = async (dir: string): Promise<Map<string, Candidate>> => {
  const index = new Map<string, Candidate>()
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true }).catch(() => [])
  for (const entry of entries) {
    if (!entry.isFile()) continue
    const file = path.join(entry.parentPath, entry.name)
    const stat = await fs.lstat(file).catch(() => undefined)
    if (stat?.isFile()) index.set(`${path.relative(dir, file)}\0${stat.size}\0${stat.mode}`, { file, stat })
  }
  return index
}

/** Whether two files hold the same bytes (sizes are already equal). */
const sameContent = async (a: string, b: string): Promise<boolean> => {
  const [x, y] = await Promise.all([sha256File(a), sha256File(b)])
  return x === y
}

/** Replaces `file` by a hard link to `original`, in one step (a reader never sees it missing). */
const linkInPlace = async (original: string, file: string): Promise<boolean> => {
  const staged = `${file}.skyward-link`
  try {
    await fs.link(original, staged)
    await fs.rename(staged, file)
    return true
  } catch {
    await fs.rm(staged, { force: true })
    return false
  }
}

/**
 * Makes the files of `env`'s site-packages that are byte for byte those of another environment in
 * `others` hard links to them: a second environment with one more package costs about that
 * package. pip and compileall replace files rather than write into them, so a later install in
 * one environment never changes another. Gives the bytes now shared.
 */
export const shareIdenticalFiles = async (env: string, others: ReadonlyArray<string>): Promise<number> => {
  const site = await sitePackagesOf(env)
  if (site === undefined) return 0
  const mine = await indexFiles(site)
  let shared = 0
  for (const other of others) {
    const theirSite = await sitePackagesOf(other)
    // only between environments of one Python minor (lib/python3.11/site-packages)
    if (theirSite === undefined || path.relative(other, theirSite) !== path.relative(env, site)) continue
    const theirs = await indexFiles(theirSite)
    for (const [key, candidate] of mine) {
      const original = theirs.get(key)
      if (original === undefined || (original.stat.ino === candidate.stat.ino && original.stat.dev === candidate.stat.dev)) continue
      if (original.stat.dev !== candidate.stat.dev || !(await sameContent(original.file, candidate.file))) continue
      if (await linkInPlace(original.file, candidate.file)) {
        shared += candidate.stat.size
        mine.delete(key)
      }
    }
  }
  return shared
}
