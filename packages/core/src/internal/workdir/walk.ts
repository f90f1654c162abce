import fs from "node:fs/promises"
import path from "node:path"
import type { WorkdirExclusion } from "@skyward/contracts"
import ignore, { type Ignore } from "ignore"

/** A file of a folder that travels, before it is hashed. */
export interface FoundFile {
  /** POSIX path relative to the folder. */
  readonly path: string
  readonly size: number
  readonly mtimeMs: number
  readonly ino: number
  readonly executable: boolean
}

/** What a walk found. */
export interface Walked {
  readonly files: ReadonlyArray<FoundFile>
  /** What was left out (capped at {@link MAX_EXCLUSIONS}; a left-out folder is one entry). */
  readonly excluded: ReadonlyArray<WorkdirExclusion>
}

/** The ignore files read in every folder, in the order their rules apply (a later rule wins). */
export const IGNORE_FILES = [".gitignore", ".skywardignore"] as const

/**
 * Never worth sending: version control, caches, bytecode, JavaScript dependencies. Written as
 * ignore rules so that a `!node_modules/` in a `.skywardignore` can take one back.
 */
export const BUILT_IN_EXCLUDES: ReadonlyArray<string> = [
  ".git/", ".hg/", ".svn/", "__pycache__/", "*.pyc", "*.pyo", ".ipynb_checkpoints/", ".pytest_cache/",
  ".mypy_cache/", ".ruff_cache/", ".tox/", ".nox/", "node_modules/", ".DS_Store"
]

const BUILT_IN = "built-in"

/** Left-out entries kept for error messages; beyond this many the rest are not listed. */
export const MAX_EXCLUSIONS = 10_000

/** Files a folder may hold before the walk gives up (a home folder, a data lake). */
export const MAX_FILES = 200_000

/** The rules of one folder's ignore files, applying to paths relative to `base`. */
interface Level {
  readonly base: string
  readonly rules: Ignore
}

/** The walk gave up: more than {@link MAX_FILES} files. */
export class TooManyFiles extends Error {}

const readText = (file: string): Promise<string | undefined> => fs.readFile(file, "utf8").catch(() => undefined)

/** The rules of the ignore files in `dir` (named by their file in `mark`), or undefined when it has none. */
const levelOf = async (dir: string, names: ReadonlyArray<string>, extra: ReadonlyArray<string> = [], extraMark = BUILT_IN): Promise<Level | undefined> => {
  const rules = ignore()
  let any = extra.length > 0
  rules.add(extra.map((pattern) => ({ pattern, mark: extraMark })))
  for (const name of names) {
    const text = await readText(path.join(dir, name))
    if (text === undefined) continue
    any = true
    rules.add(text.split(/\r?\n/).map((pattern) => ({ pattern, mark: path.join(dir, name) })))
  }
  return any ? { base: dir, rules } : undefined
}

/** The `.gitignore` files above `root` up to its git repository's top (git applies them too), outermost first. */
const ancestorLevels = async (root: string): Promise<Level[]> => {
  const dirs: string[] = []
  for (let dir = path.dirname(root); ; dir = path.dirname(dir)) {
    dirs.unshift(dir)
    if (await fs.stat(path.join(dir, ".git")).then(() => true, () => false)) break
    if (path.dirname(dir) === dir) return [] // not in a git repository: its .gitignore files are not ours
  }
  const levels = await Promise.all(dirs.map((dir) => levelOf(dir, [".gitignore"])))
  return levels.filter((l): l is Level => l !== undefined)
}

/** Why `absolute` (a folder when `isDir`) is left out by `levels`, or undefined when it travels. */
const exclusionOf = (levels: ReadonlyArray<Level>, absolute: string, isDir: boolean): string | undefined => {
  let reason: string | undefined
  for (const level of levels) {
    const relative = path.relative(level.base, absolute).split(path.sep).join("/") + (isDir ? "/" : "")
    const result = level.rules.test(relative)
    if (result.ignored) {
      const mark = result.rule?.mark ?? BUILT_IN
      reason = mark === BUILT_IN ? `left out by default (${result.rule?.pattern})` : `ignored by ${mark} (rule ${result.rule?.pattern})`
    } else if (result.unignored) reason = undefined
  }
  return reason
}

const isVirtualEnvironment = (dir: string): Promise<boolean> =>
  Promise.any([fs.access(path.join(dir, "pyvenv.cfg")), fs.access(path.join(dir, "conda-meta"))]).then(
    () => true,
    () => false
  )

/**
 * Lists the files of `root` that travel: every regular file (links followed, each folder once),
 * minus what the built-in rules, the `.gitignore` files (of `root`, its sub-folders and, inside a
 * git repository, the folders above it, unless they ignore `root` itself) and the `.skywardignore`
 * files leave out, and minus Python virtual environments. `extraExcludes` are more rules at
 * `root`, applied first; `neverSent` are absolute paths left out whatever the rules say.
 */
export const walkFolder = async (root: string, extraExcludes: ReadonlyArray<string> = [], neverSent: ReadonlyArray<string> = []): Promise<Walked> => {
  const never = new Set(neverSent)
  const files: FoundFile[] = []
  const excluded: WorkdirExclusion[] = []
  const seen = new Set<string>()
  const exclude = (relative: string, reason: string) => {
    if (excluded.length < MAX_EXCLUSIONS) excluded.push({ path: relative, reason })
  }
  const visit = async (dir: string, relative: string, levels: ReadonlyArray<Level>): Promise<void> => {
    const real = await fs.realpath(dir)
    if (seen.has(real)) return // a link back to a folder already walked
    seen.add(real)
    const own = await levelOf(dir, IGNORE_FILES, relative === "" ? [...BUILT_IN_EXCLUDES, ...extraExcludes] : [])
    const here = own ? [...levels, own] : levels
    const entries = await fs.readdir(dir, { withFileTypes: true })
    entries.sort((a, b) => (a.name < b.name ? -1 : 1))
    for (const entry of entries) {
      const absolute = path.join(dir, entry.name)
      const stat = await fs.stat(absolute).catch(() => undefined) // follows links
      const entryPath = relative + entry.name
      if (stat === undefined) {
        exclude(entryPath, "a broken symbolic link")
        continue
      }
      const isDir = stat.isDirectory()
      const shown = isDir ? `${entryPath}/` : entryPath
      const reason = never.has(absolute) ? "left out by workdirExclude (where skyward run puts its --env-file files)" : exclusionOf(here, absolute, isDir)
      if (reason !== undefined) exclude(shown, reason)
      else if (isDir) {
        if (await isVirtualEnvironment(absolute)) exclude(shown, "a Python virtual environment (the workers mirror the active one instead)")
        else await visit(absolute, `${shown}`, here)
      } else if (stat.isFile()) {
        if (files.length >= MAX_FILES) throw new TooManyFiles()
        files.push({ path: entryPath, size: stat.size, mtimeMs: stat.mtimeMs, ino: stat.ino, executable: (stat.mode & 0o111) !== 0 })
      }
    }
  }
  // a folder that its repository ignores (a scratch folder) is sent whole, by its own rules
  const ancestors = await ancestorLevels(root)
  await visit(root, "", exclusionOf(ancestors, root, true) === undefined ? ancestors : [])
  return { files, excluded }
}
