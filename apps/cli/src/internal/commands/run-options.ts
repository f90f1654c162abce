import { Options } from "@effect/cli"
import { entry as tableEntry, optionsOf, type OptionEntry } from "../option-table.js"

/**
 * The options of `skyward run`, each once: its @effect/cli definition (name, type, description)
 * and where `skyward run --help` and docs/cli.md show it (section, value name). The command, its
 * help and the CLI reference are all made from this table; nothing of it is written elsewhere.
 */

/** The sections of `skyward run`'s options, in the order help and docs show them. */
export type RunSection = "common" | "ssh" | "aws" | "advanced"

/** How a section is titled, and whether the short `--help` lists its options one a line or by name only. */
export interface SectionInfo {
  readonly id: RunSection
  readonly title: string
  readonly brief: "lines" | "names"
}

/** The sections, in order. */
export const RUN_SECTIONS: ReadonlyArray<SectionInfo> = [
  { id: "common", title: "Options", brief: "lines" },
  { id: "ssh", title: "SSH: your machines (--provider ssh)", brief: "lines" },
  { id: "aws", title: "AWS: EC2 instances made for the run (--provider aws)", brief: "lines" },
  { id: "advanced", title: "Advanced", brief: "names" }
]

/** One option of the table: its definition, its section, and the name of its value in help (`--nodes N`). */
export type RunOption<A> = OptionEntry<A, RunSection>

const entry = <A>(section: RunSection, option: Options.Options<A>, value?: string): RunOption<A> => tableEntry(section, option, value)

/** The AWS connection flags (shared with `skyward ls` and `skyward down`), with their value names. */
export const AWS_CONNECTION_TABLE = {
  region: entry(
    "aws",
    Options.text("region").pipe(Options.withDescription("AWS region (default: AWS_REGION or the profile's)."), Options.optional),
    "REGION"
  ),
  profile: entry(
    "aws",
    Options.text("profile").pipe(Options.withDescription("AWS profile of ~/.aws/config (default: AWS_PROFILE)."), Options.optional),
    "PROFILE"
  ),
  endpoint: entry(
    "aws",
    Options.text("endpoint").pipe(
      Options.withDescription("An EC2/SSM endpoint URL to use instead of AWS's. Such as an emulator's, or a VPC endpoint."),
      Options.optional
    ),
    "URL"
  )
}

/** The table, in the order of `--help` within each section. */
export const RUN_OPTION_TABLE = {
  nodes: entry(
    "common",
    Options.text("nodes").pipe(
      Options.withDescription(
        "Nodes (default 1; ssh: one per host), or MIN..MAX: elastic. " +
          "An elastic pool opens with MIN nodes, adds nodes while tasks wait longer than a node takes to get ready, and removes nodes idle for --scale-down-after."
      ),
      Options.optional
    ),
    "N|MIN..MAX"
  ),
  concurrency: entry(
    "common",
    Options.integer("concurrency").pipe(
      Options.withDescription("Task slots per node (default: the node's CPU count). n_jobs=-1 in the script means every slot of the pool: nodes x concurrency."),
      Options.optional
    ),
    "N"
  ),
  executor: entry(
    "common",
    Options.choice("executor", ["process", "thread"]).pipe(Options.withDescription("What runs tasks on a node: process (the default) or thread."), Options.optional)
  ),
  provider: entry(
    "common",
    Options.choice("provider", ["local", "ssh", "aws"]).pipe(
      Options.withDescription(
        "Where the nodes come from (default local). local: processes on this machine; ssh: your machines (--hosts); aws: EC2 instances made for the run."
      ),
      Options.optional
    )
  ),
  plugin: entry(
    "common",
    Options.text("plugin").pipe(
      Options.withDescription(
        "A plugin: joblib, sklearn, a file, a folder or an npm package. A file is .js, .mjs or .ts. " +
          "NAME:key=value,key=value passes options to its factory (values are JSON when they parse, else text), " +
          "such as ./run-label.mjs:label=nightly. sklearn adds scikit-learn to the pool's Image."
      ),
      Options.repeated
    ),
    "NAME"
  ),
  pip: entry("common", Options.text("pip").pipe(Options.withDescription("A pip requirement for the pool's Image, such as pandas==2.2."), Options.repeated), "REQ"),
  env: entry(
    "common",
    Options.text("env").pipe(
      Options.withDescription(
        "A variable for the workers and the script: KEY=VALUE or KEY. KEY alone passes on the value it has in " +
          "the environment skyward run is started in. A KEY=VALUE is on skyward's command line, which other users of this machine " +
          "can read (ps): give secrets as --env KEY or in an --env-file."
      ),
      Options.repeated
    ),
    "KEY[=VALUE]"
  ),
  "env-file": entry(
    "common",
    Options.file("env-file").pipe(
      Options.withDescription(
        "A dotenv file of variables for the workers and the script. KEY=VALUE lines, # comments, quoted values, set as --env's. " +
          "Later ones win: the config's image.env and envFile, then these files in order, then --env."
      ),
      Options.repeated
    ),
    "FILE"
  ),
  config: entry(
    "common",
    Options.file("config").pipe(
      Options.withDescription(
        "A skyward.config.* of pool options; flags override it. Its name ends in .ts, .js, .mjs or .json. Default: the first skyward.config.* " +
          "in the current folder or a parent (not above your home folder). Beside the options it may name dotenv files " +
          "as envFile (a path or a list, relative to the config file), read as --env-file's. See docs/configuration.md."
      ),
      Options.optional
    ),
    "FILE"
  ),
  timeout: entry("common", Options.float("timeout").pipe(Options.withDescription("Seconds a task may run before it is cancelled."), Options.optional), "SECONDS"),
  workdir: entry(
    "common",
    Options.directory("workdir").pipe(
      Options.withDescription(
        "The folder copied to every node as its tasks' current directory. Default: the current directory. " +
          "Its .gitignore and .skywardignore rules apply; files are sent by content, only what changed since the last run."
      ),
      Options.optional
    ),
    "DIR"
  ),
  python: entry(
    "common",
    Options.text("python").pipe(
      Options.withDescription(
        "The Python the script runs in; the workers mirror its packages. Default: the active virtual environment's " +
          "($VIRTUAL_ENV/bin/python); without one, the script runs in the pool's Image environment."
      ),
      Options.optional
    ),
    "PATH"
  ),
  quiet: entry(
    "common",
    Options.boolean("quiet").pipe(
      Options.withDescription(
        "No progress output. Progress, on stderr, shows the nodes coming up, then the script's tasks as they are done."
      )
    )
  ),
  json: entry("common", Options.boolean("json").pipe(Options.withDescription("Pool events as JSON lines on stderr."))),
  pool: entry(
    "common",
    Options.text("pool").pipe(
      Options.withDescription(
        "Run on a pool made by skyward up: no start-up; it stays up. " +
          "Its nodes, plugins and packages are the pool's: the options that shape a pool do not go with --pool."
      ),
      Options.optional
    ),
    "NAME"
  ),

  hosts: entry(
    "ssh",
    Options.text("hosts").pipe(Options.withDescription("The machines, comma-separated, each as [user@]host[:port]."), Options.optional),
    "HOST,..."
  ),
  identity: entry("ssh", Options.file("identity").pipe(Options.withDescription("The private key file to log in with."), Options.optional), "FILE"),
  "known-hosts": entry(
    "ssh",
    Options.file("known-hosts").pipe(
      Options.withDescription(
        "A known_hosts file to verify host keys with. Default: ~/.ssh/known_hosts and Skyward's own " +
          "~/.cache/skyward/known_hosts (in SKYWARD_CACHE_DIR or XDG_CACHE_HOME/skyward when set). Files given here replace both, " +
          "except that --trust-on-first-use still reads Skyward's file and records new keys in it."
      ),
      Options.repeated
    ),
    "FILE"
  ),
  "trust-on-first-use": entry(
    "ssh",
    Options.boolean("trust-on-first-use").pipe(
      Options.withDescription("Accept and record the key of a host never seen before. A changed key is still refused.")
    )
  ),

  "instance-type": entry(
    "aws",
    Options.text("instance-type").pipe(Options.withDescription("The EC2 instance type (default c6i.large)."), Options.optional),
    "TYPE"
  ),
  vcpus: entry(
    "aws",
    Options.integer("vcpus").pipe(
      Options.withDescription("The cheapest type with N vCPUs or more (and --memory, --gpu). --instance-type wins."),
      Options.optional
    ),
    "N"
  ),
  memory: entry("aws", Options.float("memory").pipe(Options.withDescription("GiB of memory per instance, for the type --vcpus picks."), Options.optional), "GIB"),
  gpu: entry(
    "aws",
    Options.text("gpu").pipe(Options.withDescription("GPUs per instance, such as T4, A10G:4 or 1 (see --vcpus)."), Options.optional),
    "TYPE[:N]"
  ),
  region: AWS_CONNECTION_TABLE.region,
  profile: AWS_CONNECTION_TABLE.profile,
  allocation: entry(
    "aws",
    Options.choice("allocation", ["spot", "on-demand", "spot-if-available"]).pipe(
      Options.withDescription("spot, on-demand or spot-if-available (the default). spot-if-available takes spot, else on-demand."),
      Options.optional
    ),
    "KIND"
  ),
  ttl: entry(
    "aws",
    Options.float("ttl").pipe(
      Options.withDescription(
        "Minutes an idle instance lives before powering off (default 30). 0: never. Idle: without an SSH session of the pool's login."
      ),
      Options.optional
    ),
    "MINUTES"
  ),
  address: entry(
    "aws",
    Options.choice("address", ["public", "private"]).pipe(
      Options.withDescription("Reach instances on their public (default) or private address."),
      Options.optional
    )
  ),
  subnet: entry("aws", Options.text("subnet").pipe(Options.withDescription("The subnet id (default: the default VPC's)."), Options.optional), "ID"),
  "security-group": entry(
    "aws",
    Options.text("security-group").pipe(Options.withDescription("A security group to use instead of the pool's own."), Options.repeated),
    "ID"
  ),
  "ssh-cidr": entry(
    "aws",
    Options.text("ssh-cidr").pipe(
      Options.withDescription("Who may reach port 22 (default: this machine's public address). With --address private, the default is the VPC."),
      Options.optional
    ),
    "CIDR"
  ),
  ami: entry(
    "aws",
    Options.text("ami").pipe(Options.withDescription("The AMI (default: the latest Ubuntu LTS for the instance type)."), Options.optional),
    "ID"
  ),
  user: entry("aws", Options.text("user").pipe(Options.withDescription("The AMI's login user (default ubuntu)."), Options.optional), "NAME"),
  endpoint: AWS_CONNECTION_TABLE.endpoint,
  "power-off-command": entry(
    "aws",
    Options.text("power-off-command").pipe(
      Options.withDescription("What the watchdog runs on an abandoned instance. Default: systemctl poweroff."),
      Options.optional
    ),
    "COMMAND"
  ),

  "instance-profile": entry(
    "advanced",
    Options.text("instance-profile").pipe(
      Options.withDescription(
        "With --provider aws: the IAM instance profile of the instances (a name), or pool: one made for the pool that reads its s3:// volumes, removed with it. " +
          "The nodes then read S3 with their role, no credentials sent."
      ),
      Options.optional
    ),
    "NAME|pool"
  ),
  volume: entry(
    "advanced",
    Options.text("volume").pipe(
      Options.withDescription(
        "Data every node sees at PATH, read-only unless :rw (repeatable): s3://bucket/prefix:/data (each node fetches it itself, " +
          "cached by ETag; your AWS set-up's short-lived credentials, or --instance-profile on EC2), or a folder of this machine " +
          "./data:/data (local nodes read it in place, ssh nodes get a copy)."
      ),
      Options.repeated
    ),
    "SRC:PATH[:rw]"
  ),
  "scale-down-after": entry(
    "advanced",
    Options.text("scale-down-after").pipe(
      Options.withDescription("With --nodes MIN..MAX: remove a node added to the pool once it had no task for this long (default 2m; such as 90s, 5m). Never below MIN."),
      Options.optional
    ),
    "DURATION"
  ),
  retries: entry(
    "advanced",
    Options.integer("retries").pipe(Options.withDescription("How often a task whose worker was lost runs again (default 2)."), Options.optional),
    "N"
  ),
  "argument-limit": entry(
    "advanced",
    Options.text("argument-limit").pipe(
      Options.withDescription(
        "The most one task may carry in large arguments (default 1GiB; such as 4GiB or 500MiB). Large: numpy arrays and other " +
          "buffers of 1 MiB or more, sent beside the task. Above the limit the script's call fails before anything is sent. " +
          "Each node keeps this much of them."
      ),
      Options.optional
    ),
    "SIZE"
  ),
  "workdir-limit": entry(
    "advanced",
    Options.text("workdir-limit").pipe(
      Options.withDescription("The most the working directory may hold (default 100MiB; such as 500MiB or 2G). Above, the run stops before any node starts."),
      Options.optional
    ),
    "SIZE"
  ),
  "no-workdir": entry("advanced", Options.boolean("no-workdir").pipe(Options.withDescription("Send no working directory."))),
  "dry-run": entry(
    "advanced",
    Options.boolean("dry-run").pipe(
      Options.withDescription("Print what the pool would be (nodes, slots; on EC2 the instance type, how it is bought, $/hour) and create nothing.")
    )
  ),
  dashboard: entry(
    "advanced",
    Options.boolean("dashboard").pipe(
      Options.withDescription("Serve a live dashboard of the pool on 127.0.0.1 while the script runs; its URL, with its token, is printed (skyward up always serves one).")
    )
  ),
  "dashboard-port": entry(
    "advanced",
    Options.integer("dashboard-port").pipe(Options.withDescription("The dashboard's port on 127.0.0.1 (default: one that is free)."), Options.optional),
    "PORT"
  )
}

const { pool: _pool, dashboard: _dashboard, ...POOL_SHAPE_TABLE } = RUN_OPTION_TABLE

/** The options of `skyward up`: its own, then run's (all but --pool) in run's sections. */
export const UP_OPTION_TABLE = {
  name: entry(
    "common",
    Options.text("name").pipe(
      Options.withDescription("The pool's name, for skyward run --pool, connect() in Python, skyward ls and down. Default: pool-1, pool-2, ... (with --provider: local-1, ssh-1, aws-1, ...)."),
      Options.optional
    ),
    "NAME"
  ),
  idle: entry(
    "common",
    Options.text("idle").pipe(
      Options.withDescription(
        "Close the pool after it was not used for this long: no task queued or running, no client attaching (such as 30m, 2h, 90s; off: never). " +
          "Default 30m for ssh and aws, off for local."
      ),
      Options.optional
    ),
    "DURATION"
  ),
  foreground: entry(
    "common",
    Options.boolean("foreground").pipe(
      Options.withDescription(
        "Keep the pool in this process instead of the background: it closes with Ctrl-C, skyward down, after --idle, or when standard input " +
          "is a pipe that closes (how Python's JoblibPool ties a pool to its process). With --json, prints how to reach the pool as one JSON line " +
          "on stdout, its token included."
      )
    )
  ),
  ...POOL_SHAPE_TABLE,
  json: entry(
    "common",
    Options.boolean("json").pipe(
      Options.withDescription(
        "When the pool is up, say so as one JSON line on stdout: its name, provider, nodes and slots; with --foreground, how to reach it " +
          "(its bridge's socket and token, as skyward attach prints). Progress on stderr stays as without it."
      )
    )
  )
}

/** The @effect/cli options of `skyward up`. */
export const UP_OPTIONS = optionsOf(UP_OPTION_TABLE)

/** What `skyward up` does. */
export const UP_DESCRIPTION = "Open a named pool that stays up for scripts, Python and notebooks to use, until skyward down."

/** The @effect/cli options of `skyward run`, as `Command.make` takes them. */
export const RUN_OPTIONS = optionsOf(RUN_OPTION_TABLE)

/** What `skyward run` does (its description in help and docs). */
export const RUN_DESCRIPTION = "Run a Python script with its joblib / scikit-learn work spread over a pool."

/** The script argument's description. */
export const SCRIPT_DESCRIPTION = "The Python script to run, unchanged."

/** What happens to the arguments after the script's path. */
export const SCRIPT_ARGS_NOTE =
  "Everything after the script's path is the script's own arguments (its sys.argv[1:]), passed on unchanged: " +
  "skyward's options go before it. Put -- before a script whose name starts with -."

/** Three ways to run, one per provider: what each does, and the command line. */
export const RUN_EXAMPLES: ReadonlyArray<{ readonly what: string; readonly command: string }> = [
  {
    what: "2 local nodes x 2 slots (n_jobs=-1 is 4), scikit-learn installed on the workers",
    command: "skyward run --nodes 2 --concurrency 2 --plugin sklearn grid_search.py"
  },
  {
    what: "your own machines over SSH, one node each; --epochs 5 goes to the script",
    command: "skyward run --provider ssh --hosts me@node1,me@node2 --identity ~/.ssh/id_ed25519 train.py --epochs 5"
  },
  {
    what: "4 EC2 instances made for the run, removed after it (AWS credentials and region as for the aws CLI)",
    command: "skyward run --provider aws --nodes 4 --instance-type c6i.2xlarge --plugin sklearn grid_search.py"
  }
]
