/** Something of the folder that does not travel, and why (`data/` for a folder, with the slash). */
export interface WorkdirExclusion {
  readonly path: string
  readonly reason: string
}

/** One file that travels, named by its content. */
export interface WorkdirFile {
  /** POSIX path relative to the working directory. */
  readonly path: string
  /** SHA-256 of its content, hex. */
  readonly hash: string
  readonly size: number
  readonly executable: boolean
}

/** The working directory as it travels to every node: its files by content, and what stays behind. */
export interface WorkdirSnapshot {
  /** The folder on the client (absolute). */
  readonly root: string
  readonly files: ReadonlyArray<WorkdirFile>
  /** Their total size. */
  readonly bytes: number
  /** The most it could have held. */
  readonly limit: number
  /** What stays behind, and why (for the errors that say why a file is missing on a worker). */
  readonly excluded: ReadonlyArray<WorkdirExclusion>
}

/** The default cap on a working directory's size: 100 MiB. */
export const DEFAULT_WORKDIR_LIMIT = 100 * 1024 ** 2
