import fs from "node:fs"
import path from "node:path"
import { Args, Command } from "@effect/cli"
import { CostMeter, nodesPrice, type PoolError } from "@skyward/contracts"
import { Effect, Option, Schedule } from "effect"
import { runClientScript } from "../client-script.js"
import { serveDashboardOf } from "../dashboard.js"
import { printDryRun } from "../dry-run.js"
import { poolNotFound, UsageError, type PoolNotFound } from "../errors.js"
import { runCostReport } from "../named-pools/cost.js"
import { findPool } from "../named-pools/state.js"
import { openProjectPool } from "../open-pool.js"
import type { PoolFlags } from "../pool-options.js"
import { clientPythonOf, type ProjectFlags } from "../project.js"
import { makeProgress, type Progress } from "../progress.js"
import { RUN_DESCRIPTION, RUN_OPTIONS, SCRIPT_DESCRIPTION } from "./run-options.js"

/** Where `skyward run` leaves the script's exit code for the process to exit with. */
export const exitCode = { value: 0 }

/** Arguments after the script path, passed to the script untouched (set by `main` before parsing). */
export const scriptArgs = { value: [] as string[] }

/** Opens the pool for the script and its project, runs the script in the client's Python and gives back its exit code. */
const runScript = (
  flags: PoolFlags & ProjectFlags & { readonly script: string; readonly dashboard: boolean; readonly "dashboard-port": Option.Option<number> },
  progress: Progress
) =>
  Effect.scoped(
    Effect.gen(function* () {
      const openedAt = new Date().toISOString()
      const opened = yield* openProjectPool(flags, flags.script, progress)
      const { pool, project, python } = opened
      let tasks = 0
      yield* Effect.acquireRelease(
        Effect.sync(() => pool.subscribe((event) => void (event._tag === "TaskDone" && tasks++))),
        (unsubscribe) => Effect.sync(unsubscribe)
      )
      if (flags.dashboard) {
        const url = yield* serveDashboardOf(opened, path.basename(flags.script), flags["dashboard-port"])
        process.stderr.write(`skyward: dashboard of this run: ${url}\n`)
      }
      // the price follows the nodes (an elastic pool's come and go)
      const price = nodesPrice(pool.cluster.nodes)
      const meter = price === undefined ? undefined : new CostMeter(Date.parse(openedAt), price.usdPerHour)
      if (meter !== undefined)
        yield* Effect.forkScoped(Effect.repeat(Effect.sync(() => meter.price(Date.now(), nodesPrice(pool.cluster.nodes)?.usdPerHour)), Schedule.spaced("1 second")))
      const code = yield* runClientScript({
        python,
        script: flags.script,
        args: scriptArgs.value,
        env: { ...pool.image.env, ...pool.client.env },
        pythonPath: pool.client.pythonPath,
        pythonPathLast: project.mirror?.clientPath ?? [],
        imports: pool.client.imports,
        mirrored: project.mirror !== undefined
      })
      progress.traffic(pool.traffic)
      if (meter !== undefined) {
        const now = Date.now()
        meter.price(now, nodesPrice(pool.cluster.nodes)?.usdPerHour)
        const { text, fields } = runCostReport({ usd: meter.total(now), since: openedAt, source: price!.source }, now, tasks)
        progress.cost(text, fields)
      }
      return code
    })
  )

type RunFlags = Command.Command.ParseConfig<typeof RUN_OPTIONS> & { readonly script: string }

/** The options `--pool` goes with: the rest shape a pool, and the named pool has its shape already. */
const WITH_POOL = new Set(["script", "pool", "python", "quiet", "json"])

/** The pool-shaping options given on the command line (as `--nodes`), which `--pool` refuses. */
const shapingFlagsGiven = (flags: RunFlags): string[] =>
  Object.entries(flags)
    .filter(([key, value]: [string, unknown]) => !WITH_POOL.has(key) && (Option.isOption(value) ? Option.isSome(value) : Array.isArray(value) ? value.length > 0 : value === true))
    .map(([key]) => `--${key}`)

/**
 * Runs the script on the named pool `name` (`skyward up`): in the active virtual environment's
 * Python (or --python), else the one the pool was made with; the pool stays up after it.
 */
const runOnPool = (flags: RunFlags, name: string, progress: Progress) =>
  Effect.gen(function* () {
    const given = shapingFlagsGiven(flags)
    if (given.length > 0)
      return yield* new UsageError({
        message: `${given.join(", ")} with --pool: pool ${name} was shaped by skyward up; give these to skyward up (after skyward down ${name}), or run without --pool`
      })
    const named = findPool(name)
    if (named === undefined) return yield* poolNotFound(name)
    const { record } = named
    const scriptFolder = path.dirname(path.resolve(flags.script))
    if (record.workdir !== undefined && path.relative(record.workdir, scriptFolder).startsWith(".."))
      progress.note(`the script's folder ${scriptFolder} is outside pool ${name}'s working directory ${record.workdir} (sent when it came up): its modules and files are not on the nodes`)
    return yield* runClientScript({
      python: clientPythonOf(flags.python) ?? record.python,
      script: flags.script,
      args: scriptArgs.value,
      env: record.connection.env,
      pythonPath: record.connection.pythonPath,
      pythonPathLast: record.clientPath,
      imports: record.connection.imports,
      mirrored: clientPythonOf(flags.python) !== undefined
    })
  })

/** `skyward run [options] <script.py> [script args...]` */
export const runCommand = Command.make(
  "run",
  { ...RUN_OPTIONS, script: Args.text({ name: "script.py" }).pipe(Args.withDescription(SCRIPT_DESCRIPTION)) },
  (flags) =>
    Effect.gen(function* () {
      if (!fs.existsSync(flags.script) || !fs.statSync(flags.script).isFile())
        return yield* new UsageError({ message: `script not found: ${flags.script}` })
      if (flags["dry-run"] && Option.isNone(flags.pool)) return yield* printDryRun(flags, flags.json)
      const progress = makeProgress(flags.json ? "json" : flags.quiet ? "quiet" : "auto")
      const run: Effect.Effect<number, UsageError | PoolNotFound | PoolError> = Option.isSome(flags.pool)
        ? runOnPool(flags, flags.pool.value, progress)
        : runScript(flags, progress)
      exitCode.value = yield* run.pipe(Effect.ensuring(Effect.sync(progress.stop)))
    })
).pipe(Command.withDescription(RUN_DESCRIPTION))
