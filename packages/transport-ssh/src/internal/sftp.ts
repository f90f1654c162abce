import fs from "node:fs/promises"
import path from "node:path"
import { Effect, type Scope } from "effect"
import type { SFTPWrapper } from "ssh2"
import type { SshConnection } from "./connect.js"
import { SshChannelError } from "./errors.js"
import { execChecked, shellQuote } from "./exec.js"

/** An SFTP session on a connection, with the connection it runs on. */
export interface Sftp {
  readonly connection: SshConnection
  readonly wrapper: SFTPWrapper
}

const fail = (connection: SshConnection, message: string, cause?: unknown) =>
  new SshChannelError({ host: connection.host, message: `${message} on ${connection.label}${cause ? `: ${(cause as Error).message ?? cause}` : ""}`, cause })

/** Opens an SFTP session; closing the scope ends it. */
export const openSftp = (connection: SshConnection): Effect.Effect<Sftp, SshChannelError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.async<SFTPWrapper, SshChannelError>((resume) => {
      try {
        connection.client.sftp((error, wrapper) =>
          resume(error ? Effect.fail(fail(connection, "cannot start SFTP", error)) : Effect.succeed(wrapper))
        )
      } catch (error) {
        resume(Effect.fail(fail(connection, "cannot start SFTP", error)))
      }
    }),
    (wrapper) => Effect.sync(() => wrapper.end())
  ).pipe(Effect.map((wrapper) => ({ connection, wrapper })))

/** Uploads one file (with its permission bits), writing to a temporary name and renaming into place. */
export const putFile = (sftp: Sftp, local: string, remote: string): Effect.Effect<void, SshChannelError> =>
  Effect.gen(function* () {
    const stat = yield* Effect.tryPromise({ try: () => fs.stat(local), catch: (e) => fail(sftp.connection, `cannot read ${local}`, e) })
    const partial = `${remote}.part-${process.pid}-${Math.random().toString(36).slice(2, 8)}`
    yield* Effect.async<void, SshChannelError>((resume) =>
      sftp.wrapper.fastPut(local, partial, { mode: stat.mode & 0o777 }, (error) =>
        resume(error ? Effect.fail(fail(sftp.connection, `cannot upload ${local} to ${remote}`, error)) : Effect.void)
      )
    )
    yield* Effect.async<void, SshChannelError>((resume) =>
      sftp.wrapper.ext_openssh_rename(partial, remote, (error) =>
        resume(error ? Effect.fail(fail(sftp.connection, `cannot move ${partial} to ${remote}`, error)) : Effect.void)
      )
    )
  })

/** Writes `data` to a remote file. */
export const writeRemoteFile = (sftp: Sftp, remote: string, data: string | Uint8Array): Effect.Effect<void, SshChannelError> =>
  Effect.async<void, SshChannelError>((resume) =>
    sftp.wrapper.writeFile(remote, Buffer.from(data), (error) =>
      resume(error ? Effect.fail(fail(sftp.connection, `cannot write ${remote}`, error)) : Effect.void)
    )
  )

/** Names and sizes of the regular files in a remote folder (empty when it does not exist). */
export const listFiles = (sftp: Sftp, dir: string): Effect.Effect<Map<string, number>> =>
  Effect.async<Map<string, number>>((resume) =>
    sftp.wrapper.readdir(dir, (error, list) => {
      const files = new Map<string, number>()
      if (!error) for (const entry of list) if (entry.attrs.isFile()) files.set(entry.filename, entry.attrs.size)
      resume(Effect.succeed(files))
    })
  )

/** Creates remote folders (and their parents) in one command. */
export const makeRemoteDirs = (connection: SshConnection, dirs: ReadonlyArray<string>) =>
  dirs.length === 0
    ? Effect.void
    : Effect.asVoid(execChecked(connection, `mkdir -p ${dirs.map(shellQuote).join(" ")}`, "creating folders"))

/** Files of a local folder, as paths relative to it; skips `__pycache__` and compiled Python. */
export const walk = async (root: string): Promise<string[]> => {
  const out: string[] = []
  const visit = async (dir: string) => {
    for (const entry of await fs.readdir(dir, { withFileTypes: true })) {
      if (entry.name === "__pycache__" || entry.name.endsWith(".pyc")) continue
      const full = path.join(dir, entry.name)
      if (entry.isDirectory()) await visit(full)
      else if (entry.isFile() || entry.isSymbolicLink()) out.push(path.relative(root, full))
    }
  }
  await visit(root)
  return out.sort()
}

/** Uploads a local file or folder to `remote` (created), several files at a time. */
export const uploadTree = (sftp: Sftp, local: string, remote: string): Effect.Effect<number, SshChannelError> =>
  Effect.gen(function* () {
    const stat = yield* Effect.tryPromise({ try: () => fs.stat(local), catch: (e) => fail(sftp.connection, `cannot read ${local}`, e) })
    if (!stat.isDirectory()) {
      yield* makeRemoteDirs(sftp.connection, [path.posix.dirname(remote)])
      yield* putFile(sftp, local, remote)
      return 1
    }
    const files = yield* Effect.tryPromise({ try: () => walk(local), catch: (e) => fail(sftp.connection, `cannot list ${local}`, e) })
    const dirs = new Set<string>([remote])
    for (const file of files) dirs.add(path.posix.join(remote, path.dirname(file).split(path.sep).join("/")))
    yield* makeRemoteDirs(sftp.connection, [...dirs])
    yield* Effect.forEach(files, (file) => putFile(sftp, path.join(local, file), path.posix.join(remote, file.split(path.sep).join("/"))), {
      concurrency: 8,
      discard: true
    })
    return files.length
  })

/** Files uploaded at once over one SFTP session. */
const UPLOAD_CONCURRENCY = 8

/** A local file and where it goes, relative to a remote folder. */
export interface Upload {
  readonly local: string
  /** POSIX path relative to the remote folder; its folders are made. */
  readonly remote: string
  /** Its size when known (else read from the file). */
  readonly size?: number
}

/**
 * Uploads the files the remote folder `base` lacks (absent, or of another size), several at a
 * time, with one listing per remote folder (made when missing); `announce` learns how many before they go. Gives back
 * those it sent.
 */
export const putMissing = (
  sftp: Sftp,
  base: string,
  uploads: ReadonlyArray<Upload>,
  announce: (missing: ReadonlyArray<Upload>) => void = () => undefined
): Effect.Effect<Upload[], SshChannelError> =>
  Effect.gen(function* () {
    const dirOf = (u: Upload) => path.posix.dirname(path.posix.join(base, u.remote))
    const dirs = [...new Set(uploads.map(dirOf))]
    const listed = new Map(yield* Effect.forEach(dirs, (dir) => Effect.map(listFiles(sftp, dir), (files) => [dir, files] as const), { concurrency: 4 }))
    const sizes = yield* Effect.forEach(uploads, (u) =>
      u.size !== undefined ? Effect.succeed(u.size) : Effect.tryPromise({ try: () => fs.stat(u.local).then((s) => s.size), catch: (e) => fail(sftp.connection, `cannot read ${u.local}`, e) })
    )
    const missing = uploads.filter((u, i) => {
      const remote = path.posix.join(base, u.remote)
      return listed.get(path.posix.dirname(remote))?.get(path.posix.basename(remote)) !== sizes[i]
    })
    announce(missing)
    // a folder is made only when something goes into it: a host that has everything costs one listing
    yield* makeRemoteDirs(sftp.connection, [...new Set(missing.map(dirOf))])
    yield* Effect.forEach(missing, (u) => putFile(sftp, u.local, path.posix.join(base, u.remote)), { concurrency: UPLOAD_CONCURRENCY, discard: true })
    return missing
  })
