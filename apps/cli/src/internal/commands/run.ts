import fs from "node:fs"
import { Args, Command, Options } from "@effect/cli"
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
    Options.withDescription("--provider aws: minutes an instance lives without an SSH session of the pool's login before it powers off (default 30; 0: never)."),
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
  env: Options.text("env").pipe(
    Options.withDescription(
      "An environment variable set on the workers and the script (repeatable): KEY=VALUE, or KEY alone to pass on " +
        "KEY's value from the environment skyward run is started in. A KEY=VALUE is on skyward's command line, " +
        "which other users of this machine can read (ps): give secrets as --env KEY or in an --env-file."
    ),
    Options.repeated
  ),
  "env-file": Options.file("env-file").pipe(
    Options.withDescription(
      "A dotenv file (KEY=VALUE lines, # comments, quoted values) whose variables are set on the workers and the script, " +
        "as --env's (repeatable). Later ones win: the config's image.env and envFile, then these files in order, then --env."
    ),
    Options.repeated
  ),
  config: Options.file("config").pipe(
    Options.withDescription(
      "A skyward.config.ts|js|json exporting pool options; flags override it. Beside them it may name dotenv files " +
        "as envFile (a path or a list, relative to the config file), read as --env-file's."
    ),
    Options.optional
  ),
  timeout: Options.float("timeout").pipe(Options.withDescription("Seconds a task may run before it is cancelled."), Options.optional),
  retries: Options.integer("retries").pipe(
    Options.withDescription("How often a task whose worker was lost runs again (default 2)."),
    Options.optional
  ),
  "argument-limit": Options.text("argument-limit").pipe(
    Options.withDescription(
      "The most one task may carry in large arguments, numpy arrays and other buffers of 1 MiB or more sent beside it " +
        "(default 1GiB; such as 4GiB or 500MiB): above, the script's call fails before anything is sent. Each node keeps this much of them."
    ),
    Options.optional
  ),
  quiet: Options.boolean("quiet").pipe(
    Options.withDescription(
      "No progress output. Progress (on stderr) shows the nodes coming up, then the pool's tasks: done, of those queued so far, " +
        "with rate and ETA. A pool task is what a client hands over at once: for joblib, one batch of one or more calls."
    )
  ),
  json: Options.boolean("json").pipe(Options.withDescription("Pool events as JSON lines on stderr.")),
  workdir: Options.directory("workdir").pipe(
    Options.withDescription(
      "The folder that travels to every node and is its tasks' current directory (default: the current directory). " +
        "Its .gitignore and .skywardignore rules apply; files are sent by content, only what changed since the last run."
    ),
    Options.optional
  ),
  "no-workdir": Options.boolean("no-workdir").pipe(Options.withDescription("Send no working directory.")),
  "workdir-limit": Options.text("workdir-limit").pipe(
    Options.withDescription("The most the working directory may hold (default 100MiB; such as 500MiB or 2G): above, the run stops before any node starts."),
    Options.optional
  ),
  python: Options.text("python").pipe(
    Options.withDescription(
      "The Python the script runs in, whose environment the workers mirror (default: the active virtual environment's, " +
        "$VIRTUAL_ENV/bin/python; without one, the script runs in the pool's Image environment)."
    ),
    Options.optional
  )
}

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
        const pool = yield* makeComputePool(validated, progress.listener)
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
  { ...options, script: Args.text({ name: "script.py" }).pipe(Args.withDescription("The Python script to run, unchanged.")) },
  (flags) =>
    Effect.gen(function* () {
      if (!fs.existsSync(flags.script) || !fs.statSync(flags.script).isFile())
        return yield* new UsageError({ message: `script not found: ${flags.script}` })
      const progress = makeProgress(flags.json ? "json" : flags.quiet ? "quiet" : "auto")
      exitCode.value = yield* runScript(flags, progress).pipe(Effect.ensuring(Effect.sync(progress.stop)))
    })
).pipe(Command.withDescription("Run a Python script with its joblib / scikit-learn work spread over a pool."))
