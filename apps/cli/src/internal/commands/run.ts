import fs from "node:fs"
import { Args, Command } from "@effect/cli"
import { makeComputePool } from "@skyward/core"
import { findLocalPython } from "@skyward/host"
import { prepareLocalEnvironment } from "@skyward/provider-local"
import { validatePoolOptions } from "@skyward/contracts"
import { Effect } from "effect"
import { runClientScript } from "../client-script.js"
import { UsageError } from "../errors.js"
import { poolOptionsFrom, type PoolFlags } from "../pool-options.js"
import { withProject, type ProjectFlags } from "../project.js"
import { makeProgress, type Progress } from "../progress.js"
import { checkScriptCompiles } from "../script-check.js"
import { RUN_DESCRIPTION, RUN_OPTIONS, SCRIPT_DESCRIPTION } from "./run-options.js"

/** Where `skyward run` leaves the script's exit code for the process to exit with. */
export const exitCode = { value: 0 }

/** Arguments after the script path, passed to the script untouched (set by `main` before parsing). */
export const scriptArgs = { value: [] as string[] }

/**
 * Opens the pool for the script and its project (checked first: bad options, a working directory
 * over its limit, a script that does not compile are refused before any node is provisioned), runs
 * the script in the client's Python and gives back its exit code.
 */
const runScript = (flags: PoolFlags & ProjectFlags & { readonly script: string }, progress: Progress) =>
  Effect.gen(function* () {
    const project = yield* withProject(yield* poolOptionsFrom(flags), flags, flags.script, progress.line)
    for (const note of project.notes) progress.note(note)
    const validated = yield* validatePoolOptions(project.options)
    yield* checkScriptCompiles(flags.script, project.mirror?.python ?? (yield* findLocalPython(validated.image.python)).executable)
    return yield* Effect.scoped(
      Effect.gen(function* () {
        // the pool logs nothing itself: `progress` is how the run reports (auto, --quiet, --json)
        const pool = yield* makeComputePool({ ...validated, log: false }, progress.listener)
        const python = project.mirror?.python ?? (yield* prepareLocalEnvironment(pool.image, pool.imageHash, -1, () => undefined)).python
        return yield* runClientScript({
          python,
          script: flags.script,
          args: scriptArgs.value,
          env: { ...pool.image.env, ...pool.client.env },
          pythonPath: pool.client.pythonPath,
          pythonPathLast: project.mirror?.clientPath ?? [],
          imports: pool.client.imports,
          mirrored: project.mirror !== undefined
        })
      })
    )
  })

/** `skyward run [options] <script.py> [script args...]` */
export const runCommand = Command.make(
  "run",
  { ...RUN_OPTIONS, script: Args.text({ name: "script.py" }).pipe(Args.withDescription(SCRIPT_DESCRIPTION)) },
  (flags) =>
    Effect.gen(function* () {
      if (!fs.existsSync(flags.script) || !fs.statSync(flags.script).isFile())
        return yield* new UsageError({ message: `script not found: ${flags.script}` })
      const progress = makeProgress(flags.json ? "json" : flags.quiet ? "quiet" : "auto")
      exitCode.value = yield* runScript(flags, progress).pipe(Effect.ensuring(Effect.sync(progress.stop)))
    })
).pipe(Command.withDescription(RUN_DESCRIPTION))
