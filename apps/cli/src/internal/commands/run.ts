import fs from "node:fs"
import { Args, Command, Options } from "@effect/cli"
import { makeComputePool, prepareLocalEnvironment, validatePoolOptions } from "@skyward/core"
import { Effect } from "effect"
import { runClientScript } from "../client-script.js"
import { UsageError } from "../errors.js"
import { poolOptionsFrom } from "../pool-options.js"
import { makeProgress } from "../progress.js"
import { checkScriptCompiles } from "../script-check.js"

/** Where `skyward run` leaves the script's exit code for the process to exit with. */
export const exitCode = { value: 0 }

/** Arguments after the script path, passed to the script untouched (set by `main` before parsing). */
export const scriptArgs = { value: [] as string[] }

/** The `--provider aws` flags (also the connection flags of `skyward ls` / `skyward down`). */
export const AWS_CONNECTION_OPTIONS = {
  region: Options.text("region").pipe(Options.withDescription("AWS region (default: AWS_REGION or the profile's)."), Options.optional),
  profile: Options.text("profile").pipe(Options.withDescription("AWS profile of ~/.aws/config (default: AWS_PROFILE)."), Options.optional),
  endpoint: Options.text("endpoint").pipe(Options.withDescription("AWS: another EC2/SSM endpoint URL (an emulator, a VPC endpoint)."), Options.optional)
}

const AWS_OPTIONS = {
  ...AWS_CONNECTION_OPTIONS,
  "instance-type": Options.text("instance-type").pipe(Options.withDescription("--provider aws: the EC2 instance type (default c6i.large)."), Options.optional),
  ami: Options.text("ami").pipe(Options.withDescription("--provider aws: the AMI (default: the latest Ubuntu LTS for the instance type)."), Options.optional),
  subnet: Options.text("subnet").pipe(Options.withDescription("--provider aws: the subnet id (default: the default VPC's)."), Options.optional),
  "security-group": Options.text("security-group").pipe(
    Options.withDescription("--provider aws: a security group to use instead of the pool's own (repeatable)."),
    Options.repeated
  ),
  allocation: Options.choice("allocation", ["spot", "on-demand", "spot-if-available"]).pipe(
    Options.withDescription("--provider aws: spot, on-demand, or spot-if-available (the default: spot, else on-demand)."),
    Options.optional
  ),
  ttl: Options.float("ttl").pipe(
    Options.withDescription("--provider aws: minutes an instance lives without a connection before it powers off (default 30; 0: never)."),
    Options.optional
  ),
  "ssh-cidr": Options.text("ssh-cidr").pipe(
    Options.withDescription("--provider aws: who may reach port 22 (default: this machine's public address, or the VPC with --address private)."),
    Options.optional
  ),
  address: Options.choice("address", ["public", "private"]).pipe(
    Options.withDescription("--provider aws: reach instances on their public (default) or private address."),
    Options.optional
  ),
  user: Options.text("user").pipe(Options.withDescription("--provider aws: the AMI's login user (default ubuntu)."), Options.optional),
  "power-off-command": Options.text("power-off-command").pipe(
    Options.withDescription("--provider aws: what the watchdog runs on an abandoned instance (default: systemctl poweroff)."),
    Options.optional
  )
}

const options = {
  provider: Options.choice("provider", ["local", "ssh", "aws"]).pipe(
    Options.withDescription("Where nodes come from: local (processes on this machine, the default), ssh (--hosts) or aws (EC2 instances made for the run)."),
    Options.optional
  ),
  hosts: Options.text("hosts").pipe(
    Options.withDescription("--provider ssh: the machines, as user@host:port,user@host:port,..."),
    Options.optional
  ),
  identity: Options.file("identity").pipe(Options.withDescription("--provider ssh: the private key file to log in with."), Options.optional),
  "known-hosts": Options.file("known-hosts").pipe(
    Options.withDescription(
      "--provider ssh: a known_hosts file to verify host keys with (repeatable). Default: ~/.ssh/known_hosts and Skyward's own " +
        "~/.cache/skyward/known_hosts (in SKYWARD_CACHE_DIR or XDG_CACHE_HOME/skyward when set). Files given here replace both, " +
        "except that --trust-on-first-use still reads Skyward's file and records new keys in it."
    ),
    Options.repeated
  ),
  "trust-on-first-use": Options.boolean("trust-on-first-use").pipe(
    Options.withDescription("--provider ssh: accept and record the key of a host never seen before (a changed key is still refused).")
  ),
  ...AWS_OPTIONS,
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
  quiet: Options.boolean("quiet").pipe(
    Options.withDescription(
      "No progress output. Progress (on stderr) shows the nodes coming up, then the pool's tasks: done, of those queued so far, " +
        "with rate and ETA. A pool task is what a client hands over at once: for joblib, one batch of one or more calls."
    )
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Pool events as JSON lines on stderr."))
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
      // bad options and a script that does not compile are refused before any node is provisioned
      const validated = yield* validatePoolOptions(poolOptions)
      yield* checkScriptCompiles(flags.script, validated.image.python)
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
