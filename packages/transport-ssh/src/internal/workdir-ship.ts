import path from "node:path"
import { BootstrapError, formatBytes, uploadDestination, type WorkdirFile, type WorkdirShipped, type WorkdirSnapshot } from "@skyward/contracts"
import { Effect } from "effect"
import type { SshConnection } from "./connect.js"
import { WORKDIR_SCRIPT } from "./remote-scripts.js"
import { runRemotePython, withData } from "./remote-python.js"
import { putMissing, type Sftp } from "./sftp.js"

/** Where the working directory goes on one node. */
export interface WorkdirTarget {
  readonly connection: SshConnection
  readonly sftp: Sftp
  readonly node: number
  /** `image.python`, for the interpreter that makes the work folder. */
  readonly python: string
  /** The host's content store, `<root>/files`: every file sent to the host, named by its SHA-256. */
  readonly store: string
  /** The work folder (made, empty). */
  readonly workDir: string
  readonly onLine: (line: string) => void
}

/** One file per content: the same bytes under two paths cross once. */
const byContent = (files: ReadonlyArray<WorkdirFile>): WorkdirFile[] => [...new Map(files.map((f) => [f.hash, f])).values()]

/** The error for files of the snapshot that changed while they were sent (see WORKDIR_SCRIPT). */
const changedWhileSent = (target: WorkdirTarget, snapshot: WorkdirSnapshot, stdout: string): BootstrapError => {
  const line = stdout.split("\n").find((l) => l.startsWith("SKYWARD-CHANGED "))!
  const changed = (JSON.parse(line.slice("SKYWARD-CHANGED ".length)) as string[]).map((p) => path.join(snapshot.root, p))
  const more = changed.length > 1 ? ` (and ${changed.length - 1} more)` : ""
  return new BootstrapError({ node: target.node, message: `${changed[0]}${more} changed while it was being sent; run again`, output: stdout })
}

/**
 * Ships the working directory into a node's work folder, by content: the host's store gets the
 * files it lacks (one listing, then uploads written to a temporary name and renamed, so nodes
 * sharing a host never see half a file), then one remote program checks what was uploaded and
 * copies every file from the store into the work folder. A host that has every file receives none.
 */
export const shipWorkdir = (target: WorkdirTarget, snapshot: WorkdirSnapshot): Effect.Effect<WorkdirShipped, BootstrapError> =>
  Effect.gen(function* () {
    const { connection, node, onLine } = target
    const where = `node ${node} (${connection.label})`
    const fail = (message: string, output = "") => new BootstrapError({ node, message, output })
    const outside = snapshot.files.find((f) => uploadDestination(target.workDir, f.path) === undefined)
    if (outside !== undefined) return yield* fail(`the working directory's file ${JSON.stringify(outside.path)} would land outside the work folder of ${where}`)

    const unique = byContent(snapshot.files)
    const sizes = new Map(unique.map((f) => [f.hash, f.size]))
    const bytesOf = (uploads: ReadonlyArray<{ readonly remote: string }>) => uploads.reduce((sum, u) => sum + (sizes.get(u.remote) ?? 0), 0)
    const sent = yield* putMissing(
      target.sftp,
      target.store,
      unique.map((f) => ({ local: path.join(snapshot.root, f.path), remote: f.hash, size: f.size })),
      (missing) =>
        missing.length > 0 &&
        onLine(`sending ${missing.length} of ${unique.length} files (${formatBytes(bytesOf(missing))}) of the working directory to ${connection.label}`)
    ).pipe(Effect.mapError((e) => fail(`cannot send the working directory ${snapshot.root} to ${where}: ${e.message}`)))
    const sentHashes = new Set(sent.map((u) => u.remote))
    const sentFiles = unique.filter((f) => sentHashes.has(f.hash))
    const sentBytes = bytesOf(sent)

    const manifest = {
      files: snapshot.files.map((f) => ({ path: f.path, hash: f.hash, executable: f.executable })),
      verify: sentFiles.map((f) => ({ path: f.path, hash: f.hash }))
    }
    const made = yield* runRemotePython(connection, target.python, withData(WORKDIR_SCRIPT, manifest), { store: target.store, work: target.workDir }).pipe(
      Effect.mapError((e) => fail(`${where}: ${e.message}`))
    )
    if (made.stdout.includes("SKYWARD-CHANGED ")) return yield* changedWhileSent(target, snapshot, made.stdout)
    if (made.code !== 0)
      return yield* fail(`cannot make the work folder of ${where} from the working directory: ${made.tail.trim().split("\n").slice(-1)[0] ?? `exit ${made.code}`}`, made.tail)
    return { files: snapshot.files.length, bytes: snapshot.bytes, sentFiles: sentFiles.length, sentBytes }
  })
