import { spawn } from "node:child_process"
import fs from "node:fs"
import { Command } from "@effect/cli"
import { Effect, Option } from "effect"
import { UsageError } from "../errors.js"
import { formatDuration, parseIdle } from "../named-pools/duration.js"
import { serveDashboardOf } from "../dashboard.js"
import { printDryRun } from "../dry-run.js"
import { readyText, servePool } from "../named-pools/serve.js"
import {
  claimName,
  findPool,
  freeName,
  nameProblem,
  nameTaken,
  poolLog,
  poolsDir,
  privateDir,
  releaseName,
  removePool,
  type PoolRecord
} from "../named-pools/state.js"
import { openProjectPool } from "../open-pool.js"
import { makeProgress } from "../progress.js"
import { exitCode } from "./run.js"
import { UP_DESCRIPTION, UP_OPTIONS } from "./run-options.js"

/** `skyward up`'s own arguments as typed (set by `main`): the background process gets them again. */
export const upArgs = { value: [] as string[] }

/** Set in the environment of the process `skyward up` starts in the background (and removed there at once). */
const BACKGROUND_ENV = "SKYWARD_UP_BACKGROUND"

/** A pool of a remote provider closes after this long without use unless --idle says otherwise. */
const REMOTE_IDLE_MS = 30 * 60_000

/** How often the starter looks at the background process's log and record. */
const POLL_MS = 100

type UpFlags = Command.Command.ParseConfig<typeof UP_OPTIONS>

/** --idle as milliseconds (undefined: never), or "default": decided by the provider once known. */
const idleOf = (flags: UpFlags): Effect.Effect<number | undefined | "default", UsageError> => {
  if (Option.isNone(flags.idle)) return Effect.succeed("default")
  const ms = parseIdle(flags.idle.value)
  return ms === null
    ? Effect.fail(new UsageError({ message: `--idle ${JSON.stringify(flags.idle.value)}: expected a duration such as 30m, 2h or 90s, or off` }))
    : Effect.succeed(ms)
}

const takenError = (name: string) =>
  new UsageError({ message: `a pool named ${name} is up already (skyward ls): close it with skyward down ${name}, or choose another --name` })

/** The pool's name: --name (checked), else `<provider>-<n>`, the first not in use. */
const nameOf = (flags: UpFlags): Effect.Effect<string, UsageError> => {
  if (Option.isNone(flags.name)) return Effect.succeed(freeName(Option.getOrElse(flags.provider, () => "pool")))
  const problem = nameProblem(flags.name.value)
  return problem === undefined ? Effect.succeed(flags.name.value) : Effect.fail(new UsageError({ message: problem }))
}

/** Opens the pool in this process and keeps it up under `name` (--foreground, and the background process). */
const foreground = (flags: UpFlags, name: string, idle: number | undefined | "default", background: boolean) =>
  Effect.scoped(
    Effect.gen(function* () {
      if (!claimName(name)) return yield* takenError(name)
      let ready = false
      // a failed start leaves its log for the starter to show; a pool that was up leaves nothing
      yield* Effect.addFinalizer(() => Effect.sync(() => (ready ? removePool(name) : releaseName(name))))
      // --json is the ready line on stdout (for programs); progress stays text
      const progress = makeProgress(flags.quiet ? "quiet" : "auto")
      yield* Effect.addFinalizer(() => Effect.sync(progress.stop))
      const openedAt = new Date().toISOString()
      const opened = yield* openProjectPool(flags, undefined, progress)
      const idleMs = idle === "default" ? (opened.pool.cluster.provider === "local" ? undefined : REMOTE_IDLE_MS) : idle
      const dashboard = yield* serveDashboardOf(opened, name, flags["dashboard-port"])
      ready = true
      yield* servePool(opened, { name, idleMs, json: flags.json, background, openedAt, dashboard }, (line) => void process.stderr.write(`skyward: ${line}\n`))
    })
  )

/** The arguments the background process gets: the user's, with --foreground and the chosen name. */
const backgroundArgs = (args: ReadonlyArray<string>, name: string, named: boolean): string[] => {
  const at = args.indexOf("up")
  return [...args.slice(0, at + 1), "--foreground", ...(named ? [] : ["--name", name]), ...args.slice(at + 1)]
}

/**
 * Starts the pool in a process of its own (detached: it outlives this command and the terminal),
 * shows its log until the pool is up, then says how to use it. A failed start ends this command
 * with the pool's own error and exit code; Ctrl-C meanwhile stops it.
 */
const background = (flags: UpFlags, name: string) =>
  Effect.gen(function* () {
    if (nameTaken(name)) return yield* takenError(name)
    privateDir(poolsDir())
    const log = poolLog(name)
    const fd = fs.openSync(log, "w", 0o600)
    const child = spawn(process.execPath, [process.argv[1]!, ...backgroundArgs(upArgs.value, name, Option.isSome(flags.name))], {
      detached: true,
      stdio: ["ignore", fd, fd],
      env: { ...process.env, [BACKGROUND_ENV]: "1" }
    })
    fs.closeSync(fd)
    const outcome = yield* Effect.async<{ readonly record: PoolRecord } | { readonly code: number }>((resume) => {
      let shown = 0
      const relay = () => {
        const text = fs.readFileSync(log)
        if (text.length > shown) process.stderr.write(text.subarray(shown))
        shown = text.length
      }
      const poll = setInterval(() => {
        relay()
        const pool = findPool(name)
        if (pool === undefined || pool.record.pid !== child.pid) return
        clearInterval(poll)
        child.removeAllListeners("exit")
        resume(Effect.succeed({ record: pool.record }))
      }, POLL_MS)
      child.once("exit", (code, signal) => {
        clearInterval(poll)
        relay()
        fs.rmSync(log, { force: true })
        resume(Effect.succeed({ code: code ?? (signal === null ? 1 : 128 + 15) }))
      })
      return Effect.async<void>((stopped) => {
        clearInterval(poll)
        if (child.exitCode !== null || child.signalCode !== null) return stopped(Effect.void)
        child.once("exit", () => stopped(Effect.void))
        child.kill("SIGTERM")
      })
    })
    if ("code" in outcome) {
      exitCode.value = outcome.code
      return
    }
    child.unref()
    const { record } = outcome
    process.stdout.write(
      flags.json
        ? `${JSON.stringify({ name: record.name, provider: record.provider, nodes: record.nodes, totalSlots: record.connection.totalSlots, idle: record.idleMs === undefined ? null : formatDuration(record.idleMs) })}\n`
        : `${readyText(record)}\n`
    )
  })

/** `skyward up [options]`: a named pool in the background (or, with --foreground, in this process). */
export const upCommand = Command.make("up", UP_OPTIONS, (flags) =>
  Effect.gen(function* () {
    if (flags["dry-run"]) return yield* printDryRun(flags, flags.json)
    const started = process.env[BACKGROUND_ENV] === "1"
    delete process.env[BACKGROUND_ENV]
    const idle = yield* idleOf(flags)
    const name = yield* nameOf(flags)
    if (flags.foreground) return yield* foreground(flags, name, idle, started)
    return yield* background(flags, name)
  })
).pipe(Command.withDescription(UP_DESCRIPTION))
