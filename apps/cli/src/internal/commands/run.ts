import fs from "node:fs"
import { Args, Command, Options } from "@effect/cli"
import { makeComputePool, prepareLocalEnvironment } from "@skyward/core"
import { Effect } from "effect"
import { runClientScript } from "../client-script.js"
import { UsageError } from "../errors.js"
import { poolOptionsFrom } from "../pool-options.js"
import { makeProgress } from "../progress.js"

/** Where `skyward run` leaves the script's exit code for the process to exit with. */
export const exitCode = { value: 0 }

/** Arguments after the script path, passed to the script untouched (set by `main` before parsing). */
export const scriptArgs = { value: [] as string[] }

const options = {
  provider: Options.choice("provider", ["local", "ssh"]).pipe(
    Options.withDescription("Where nodes come from: local (processes on this machine, the default) or ssh (--hosts)."),
    Options.optional
  ),
  hosts: Options.text("hosts").pipe(
    Options.withDescription("--provider ssh: the machines, as user@host:port,user@host:port,..."),
    Options.optional
  ),
  identity: Options.file("identity").pipe(Options.withDescription("--provider ssh: the private key file to log in with."), Options.optional),
  "known-hosts": Options.file("known-hosts").pipe(
    Options.withDescription("--provider ssh: a known_hosts file to verify host keys with (repeatable; default ~/.ssh/known_hosts)."),
    Options.repeated
  ),
  "trust-on-first-use": Options.boolean("trust-on-first-use").pipe(
    Options.withDescription("--provider ssh: accept and record the key of a host never seen before (a changed key is still refused).")
  ),
  nodes: Options.integer("nodes").pipe(Options.withDescription("Number of nodes (default 1)."), Options.optional),
  concurrency: Options.integer("concurrency").pipe(
    Options.withDescription("Task slots per node (default: the node's CPU count)."),
    Options.optional
  ),
  executor: Options.choice("executor", ["process", "thread"]).pipe(
    Options.withDescription("What runs tasks on a node (default process)."),
    Options.optional
  ),
  plugin: Options.text("plugin").pipe(
    Options.withDescription("A plugin: joblib, sklearn, a path or an npm package (repeatable)."),
    Options.repeated
  ),
  pip: Options.text("pip").pipe(Options.withDescription("A pip requirement for the Image (repeatable)."), Options.repeated),
  env: Options.text("env").pipe(Options.withDescription("KEY=VALUE set on the workers and the script (repeatable)."), Options.repeated),
  config: Options.file("config").pipe(
    Options.withDescription("A skyward.config.ts|js|json exporting pool options; flags override it."),
    Options.optional
  ),
  timeout: Options.float("timeout").pipe(Options.withDescription("Seconds a task may run before it is cancelled."), Options.optional),
  retries: Options.integer("retries").pipe(
    Options.withDescription("How often a task whose worker was lost runs again (default 2)."),
    Options.optional
  ),
  quiet: Options.boolean("quiet").pipe(Options.withDescription("No progress output.")),
  json: Options.boolean("json").pipe(Options.withDescription("Pool events as JSON lines on stderr."))
}

const SWITCHES = ["quiet", "json", "trust-on-first-use"]

/** Flags of `skyward run`: those that take a value, and switches. Used to find where the script path starts. */
export const RUN_FLAGS = {
  valued: Object.keys(options)
    .filter((name) => !SWITCHES.includes(name))
    .map((name) => `--${name}`),
  switches: SWITCHES.map((name) => `--${name}`)
}

/** `skyward run [options] <script.py> [script args...]` */
export const runCommand = Command.make(
  "run",
  { ...options, script: Args.text({ name: "script.py" }).pipe(Args.withDescription("The Python script to run, unchanged.")) },
  (flags) =>
    Effect.gen(function* () {
      if (!fs.existsSync(flags.script) || !fs.statSync(flags.script).isFile())
        return yield* new UsageError({ message: `script not found: ${flags.script}` })
      const poolOptions = yield* poolOptionsFrom(flags)
      const progress = makeProgress(flags.json ? "json" : flags.quiet ? "quiet" : "auto")
      const code = yield* Effect.scoped(
        Effect.gen(function* () {
          const pool = yield* makeComputePool(poolOptions, progress.listener)
          const client = yield* prepareLocalEnvironment(pool.image, pool.imageHash, -1, () => undefined)
          return yield* runClientScript({
            python: client.python,
            script: flags.script,
            args: scriptArgs.value,
            env: { ...pool.image.env, ...pool.client.env },
            pythonPath: pool.client.pythonPath,
            imports: pool.client.imports
          })
        })
      ).pipe(Effect.ensuring(Effect.sync(progress.stop)))
      exitCode.value = code
    })
).pipe(Command.withDescription("Run a Python script with its joblib / scikit-learn work spread over a pool."))
