import { randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { cacheRoot, sha256File } from "@skyward/host"
import { BootstrapError, type WorkdirFile, type WorkdirShipped, type WorkdirSnapshot } from "@skyward/contracts"

/** Files copied at once. */
const COPY_CONCURRENCY = 16

const exists = (file: string) =>
  fs.access(file).then(
    () => true,
    () => false
  )

/** Files being put in the store by this process: the nodes of a pool ship together, one stores each file. */
const storing = new Map<string, Promise<boolean>>()

/**
 * Puts one file into the machine's store `<cache>/files/<sha256>` unless it is there (or another
 * node of this process is putting it there); true for the one call that copied it. The copy is
 * checked against the hash it is named by: a file edited since the snapshot would otherwise sit in
 * the store under a wrong name, for every later pool.
 */
const store = (snapshot: WorkdirSnapshot, file: WorkdirFile, storeDir: string): Promise<boolean> => {
  const target = path.join(storeDir, file.hash)
  const pending = storing.get(target)
  if (pending) return pending.then(() => false)
  const copied = copyIntoStore(snapshot, file, target).finally(() => storing.delete(target))
  storing.set(target, copied)
  return copied
}

const copyIntoStore = (snapshot: WorkdirSnapshot, file: WorkdirFile, target: string): Promise<boolean> =>
  exists(target).then(async (there) => {
    if (there) return false
    const partial = `${target}.part-${randomBytes(4).toString("hex")}`
    try {
      await fs.copyFile(path.join(snapshot.root, file.path), partial, fs.constants.COPYFILE_FICLONE)
      if ((await sha256File(partial)) !== file.hash) throw new Error(`${path.join(snapshot.root, file.path)} changed while it was being sent; run again`)
      await fs.rename(partial, target) // another process storing it too: either copy is the same
      return true
    } finally {
      await fs.rm(partial, { force: true })
    }
  })

/**
 * Ships the working directory to a local node as to a remote one, by content: the files the
 * machine's store lacks go into it (what "sent" counts: nothing, for an unchanged project), then
 * the node's work folder is made of copies from the store (reflinks where the file system has
 * them). The node's tasks work on their own copy and never write into the user's folder.
 */
export const copyWorkdir = (node: number, snapshot: WorkdirSnapshot, workDir: string): Effect.Effect<WorkdirShipped, BootstrapError> =>
  Effect.gen(function* () {
    const storeDir = path.join(cacheRoot(), "files")
    const fail = (cause: unknown) =>
      new BootstrapError({
        node,
        message: `cannot ship the working directory ${snapshot.root} to node ${node}: ${cause instanceof Error ? cause.message : String(cause)}`,
        output: ""
      })
    yield* Effect.tryPromise({ try: () => fs.mkdir(storeDir, { recursive: true, mode: 0o700 }), catch: fail })
    const unique = [...new Map(snapshot.files.map((f) => [f.hash, f])).values()]
    const sent = yield* Effect.forEach(unique, (file) => Effect.tryPromise({ try: () => store(snapshot, file, storeDir), catch: fail }), {
      concurrency: COPY_CONCURRENCY
    })
    const dirs = new Set(snapshot.files.map((file) => path.dirname(path.join(workDir, file.path))))
    yield* Effect.tryPromise({ try: () => Promise.all([...dirs].map((dir) => fs.mkdir(dir, { recursive: true }))), catch: fail })
    yield* Effect.forEach(
      snapshot.files,
      (file) =>
        Effect.tryPromise({
          try: async () => {
            const target = path.join(workDir, file.path)
            await fs.copyFile(path.join(storeDir, file.hash), target, fs.constants.COPYFILE_FICLONE)
            await fs.chmod(target, file.executable ? 0o755 : 0o644)
          },
          catch: fail
        }),
      { concurrency: COPY_CONCURRENCY, discard: true }
    )
    const sentFiles = unique.filter((_, i) => sent[i])
    return { files: snapshot.files.length, bytes: snapshot.bytes, sentFiles: sentFiles.length, sentBytes: sentFiles.reduce((sum, f) => sum + f.size, 0) }
  })
