import fs from "node:fs/promises"
import path from "node:path"
import type { ComputePoolShape } from "@skyward/contracts"
import { Effect } from "effect"

/** The variable that tells the client's `skyward_joblib` where the report is. */
export const WORKDIR_REPORT_ENV = "SKYWARD_WORKDIR_REPORT"

/**
 * What the client's `skyward_joblib` reads to say why a module or file a task did not find on its
 * worker is there on the client (`_hints.py`): the folder that travelled, what stayed behind and
 * why, the workers' `sys.path` head, and whether the workers mirror the client's environment.
 */
export interface WorkdirReport {
  readonly root: string | null
  readonly limit: number | null
  readonly excluded: ReadonlyArray<{ readonly path: string; readonly reason: string }>
  readonly sysPath: ReadonlyArray<string>
  readonly mirror: boolean
}

/** Writes the report into `directory` (the bridge's private folder, removed with it); gives its path. */
export const writeWorkdirReport = (pool: ComputePoolShape, directory: string): Effect.Effect<string, Error> =>
  Effect.tryPromise({
    try: async () => {
      const report: WorkdirReport = {
        root: pool.workdir?.root ?? null,
        limit: pool.workdir?.limit ?? null,
        excluded: pool.workdir?.excluded ?? [],
        sysPath: pool.sysPath,
        mirror: pool.image.mirror !== undefined
      }
      const file = path.join(directory, "workdir-report.json")
      await fs.writeFile(file, JSON.stringify(report), { mode: 0o600 })
      return file
    },
    catch: (cause) => (cause instanceof Error ? cause : new Error(String(cause)))
  })
