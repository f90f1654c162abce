import fs from "node:fs/promises"
import path from "node:path"
import { Effect } from "effect"
import { BootstrapError } from "../errors.js"
import type { WorkdirShipped } from "../transport.js"
import type { WorkdirSnapshot } from "../workdir/snapshot.js"

/** Files copied at once. */
const COPY_CONCURRENCY = 16

/**
 * Copies the working directory into a local node's work folder (a reflink where the file system
 * has them): the node's tasks work on their own copy and never write into the user's folder.
 */
export const copyWorkdir = (node: number, snapshot: WorkdirSnapshot, workDir: string): Effect.Effect<WorkdirShipped, BootstrapError> =>
  Effect.gen(function* () {
    const dirs = new Set(snapshot.files.map((file) => path.dirname(path.join(workDir, file.path))))
    yield* Effect.forEach(
      snapshot.files,
      (file) =>
        Effect.tryPromise({
          try: async () => {
            const target = path.join(workDir, file.path)
            const dir = path.dirname(target)
            if (dirs.delete(dir)) await fs.mkdir(dir, { recursive: true })
            else await fs.access(dir).catch(() => fs.mkdir(dir, { recursive: true }))
            await fs.copyFile(path.join(snapshot.root, file.path), target, fs.constants.COPYFILE_FICLONE)
            await fs.chmod(target, file.executable ? 0o755 : 0o644)
          },
          catch: (cause) =>
            new BootstrapError({
              node,
              message: `cannot copy ${file.path} of the working directory ${snapshot.root} to node ${node}: ${cause instanceof Error ? cause.message : String(cause)}`,
              output: ""
            })
        }),
      { concurrency: COPY_CONCURRENCY, discard: true }
    )
    return { files: snapshot.files.length, bytes: snapshot.bytes, sentFiles: snapshot.files.length, sentBytes: snapshot.bytes }
  })
