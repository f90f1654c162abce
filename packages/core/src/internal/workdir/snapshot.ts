import { createHash } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { ConfigError, DEFAULT_WORKDIR_LIMIT, WorkdirTooLarge, type WorkdirFile, type WorkdirSnapshot } from "@skyward/contracts"
import { cacheRoot, sha256File } from "@skyward/host"
import { MAX_FILES, TooManyFiles, walkFolder, type FoundFile } from "./walk.js"

/** Files read at once while hashing. */
const HASH_CONCURRENCY = 8

/** Hashes of files by path, with what identifies their content (size, mtime, inode). */
type HashIndex = Record<string, readonly [size: number, mtimeMs: number, ino: number, hash: string]>

const indexFile = (root: string) =>
  path.join(cacheRoot(), "workdir", `${createHash("sha256").update(root).digest("hex").slice(0, 16)}.json`)

const readIndex = (file: string): Promise<HashIndex> =>
  fs.readFile(file, "utf8").then(
    (text) => JSON.parse(text) as HashIndex,
    () => ({})
  )

const writeIndex = async (file: string, index: HashIndex): Promise<void> => {
  await fs.mkdir(path.dirname(file), { recursive: true })
  const temporary = `${file}.${process.pid}`
  await fs.writeFile(temporary, JSON.stringify(index))
  await fs.rename(temporary, file) // two runs at once never read half a file
}

/** The five largest entries at the top of the folder (a folder counts all it holds), largest first. */
const largestEntries = (files: ReadonlyArray<FoundFile>): Array<{ readonly path: string; readonly bytes: number }> => {
  const sizes = new Map<string, number>()
  for (const file of files) {
    const slash = file.path.indexOf("/")
    const top = slash < 0 ? file.path : file.path.slice(0, slash + 1)
    sizes.set(top, (sizes.get(top) ?? 0) + file.size)
  }
  return [...sizes].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([entry, bytes]) => ({ path: entry, bytes }))
}

/**
 * Takes the working directory that travels to the nodes: walks `dir` (see `walkFolder` for what is
 * left out; `neverSent` files stay behind whatever the rules say), refuses it when its files add up to more than `limit` bytes (before anything is read,
 * so a huge folder costs one walk), then hashes every file (a file whose size, mtime and inode are
 * unchanged since the last run keeps its hash).
 */
export const snapshotWorkdir = (
  dir: string,
  limit: number = DEFAULT_WORKDIR_LIMIT,
  extraExcludes: ReadonlyArray<string> = [],
  neverSent: ReadonlyArray<string> = []
): Effect.Effect<WorkdirSnapshot, ConfigError | WorkdirTooLarge> =>
  Effect.gen(function* () {
    const root = path.resolve(dir)
    const isDir = yield* Effect.promise(() => fs.stat(root).then((s) => s.isDirectory(), () => false))
    if (!isDir) return yield* new ConfigError({ field: "workdir", message: `workdir: ${root} is not a folder` })
    const walked = yield* Effect.tryPromise({
      try: () => walkFolder(root, extraExcludes, neverSent.map((file) => path.resolve(root, file))),
      catch: (cause) =>
        new ConfigError({
          field: "workdir",
          message:
            cause instanceof TooManyFiles
              ? `workdir: ${root} holds more than ${MAX_FILES.toLocaleString("en")} files; choose a smaller folder or exclude the bulk in a .skywardignore`
              : `workdir: cannot read ${root}: ${cause instanceof Error ? cause.message : String(cause)}`
        })
    })
    const bytes = walked.files.reduce((sum, file) => sum + file.size, 0)
    if (bytes > limit) return yield* new WorkdirTooLarge({ root, bytes, limit, largest: largestEntries(walked.files) })
    const cache = indexFile(root)
    const index = yield* Effect.promise(() => readIndex(cache))
    const next: HashIndex = {}
    const files = yield* Effect.forEach(
      walked.files,
      (file) =>
        Effect.tryPromise({
          try: async (): Promise<WorkdirFile> => {
            const known = index[file.path]
            const fresh = known && known[0] === file.size && known[1] === file.mtimeMs && known[2] === file.ino
            const hash = fresh ? known[3] : await sha256File(path.join(root, file.path))
            next[file.path] = [file.size, file.mtimeMs, file.ino, hash]
            return { path: file.path, hash, size: file.size, executable: file.executable }
          },
          catch: (cause) => new ConfigError({ field: "workdir", message: `workdir: cannot read ${path.join(root, file.path)}: ${cause instanceof Error ? cause.message : String(cause)}` })
        }),
      { concurrency: HASH_CONCURRENCY }
    )
    yield* Effect.promise(() => writeIndex(cache, next).catch(() => undefined))
    return { root, files, bytes, limit, excluded: walked.excluded }
  })
