import { makeComputePool } from "@skyward/core"
import type { ComputePoolShape, PoolOptions } from "@skyward/contracts"
import { validatePoolOptions } from "@skyward/contracts"
import { findLocalPython } from "@skyward/host"
import { prepareLocalEnvironment } from "@skyward/provider-local"
import { Effect } from "effect"
import { poolOptionsFrom, type PoolFlags } from "./pool-options.js"
import { withProject, type Project, type ProjectFlags } from "./project.js"
import type { Progress } from "./progress.js"
import { checkScriptCompiles } from "./script-check.js"

/** A pool opened for a project, and the Python its scripts run in. */
export interface ProjectPool {
  readonly pool: ComputePoolShape
  readonly options: PoolOptions
  readonly project: Project
  /** The client's own Python when the workers mirror it, else the pool's Image environment made on this machine. */
  readonly python: string
}

/**
 * Opens a pool for the project in the current folder (`skyward run`, `skyward up`), in the current
 * scope. Checked first: bad options, a working directory over its limit, a script (when there is
 * one) that does not compile are refused before any node is provisioned.
 */
export const openProjectPool = (flags: PoolFlags & ProjectFlags, script: string | undefined, progress: Progress) =>
  Effect.gen(function* () {
    const project = yield* withProject(yield* poolOptionsFrom(flags), flags, script, progress.line)
    for (const note of project.notes) progress.note(note)
    const options = yield* validatePoolOptions(project.options)
    if (script !== undefined)
      yield* checkScriptCompiles(script, project.mirror?.python ?? (yield* findLocalPython(options.image.python)).executable)
    // the pool logs nothing itself: `progress` is how the command reports (auto, --quiet, --json)
    const pool = yield* makeComputePool({ ...options, log: false }, progress.listener)
    const python = project.mirror?.python ?? (yield* prepareLocalEnvironment(pool.image, pool.imageHash, -1, () => undefined)).python
    return { pool, options, project, python } satisfies ProjectPool
  })
