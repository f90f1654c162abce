import { execFile } from "node:child_process"
import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { promisify } from "node:util"
import { Effect } from "effect"
import { ConfigError } from "@skyward/contracts"

const run = promisify(execFile)

/** How a distribution came to be installed (PEP 610's `direct_url.json`), when not from an index. */
export interface DirectUrl {
  readonly url: string
  readonly dir_info?: { readonly editable?: boolean }
  readonly archive_info?: Record<string, unknown>
  readonly vcs_info?: { readonly vcs: string; readonly commit_id: string }
}

/** One installed distribution of the client's environment. */
export interface InstalledDistribution {
  readonly name: string
  readonly version: string
  readonly directUrl: DirectUrl | null
}

/** What a client Python reports about itself and its environment. */
export interface ClientPython {
  /** The interpreter as given (a virtual environment's `bin/python`). */
  readonly executable: string
  /** "3.11.7" */
  readonly version: string
  readonly implementation: string
  readonly prefix: string
  readonly basePrefix: string
  /** `sys._base_executable`: the interpreter a virtual environment was made from (unreliable before 3.11). */
  readonly baseExecutable: string
  /** True when `python -m pip` works in it. */
  readonly pip: boolean
  /** Its distributions in import order (the first of a name is the one `import` finds). */
  readonly distributions: ReadonlyArray<InstalledDistribution>
}

/** Seconds the probe may take (a cold start of a large environment reads many metadata files). */
const PROBE_TIMEOUT_MS = 60_000

// Python 3.9+ (the oldest client Skyward supports): no newer syntax or library calls.
const PROBE = String.raw`
import importlib.util, json, re, sys
from importlib import metadata
seen, dists = set(), []
for dist in metadata.distributions():
    name = dist.metadata["Name"]
    if not name or re.sub(r"[-_.]+", "-", name).lower() in seen:
        continue
    seen.add(re.sub(r"[-_.]+", "-", name).lower())
    try:
        direct = json.loads(dist.read_text("direct_url.json") or "null")
    except ValueError:
        direct = None
    dists.append({"name": name, "version": dist.version, "directUrl": direct})
json.dump({
    "version": "%d.%d.%d" % sys.version_info[:3],
    "implementation": sys.implementation.name,
    "prefix": sys.prefix,
    "basePrefix": sys.base_prefix,
    "baseExecutable": getattr(sys, "_base_executable", sys.executable),
    "pip": importlib.util.find_spec("pip") is not None,
    "distributions": dists,
}, sys.stdout)
`

/**
 * Asks the client's Python (`python`, a path or a name on PATH) what it is and what it has
 * installed. It runs from a neutral folder without the PYTHONPATH Skyward adds, so it sees what
 * the user's script sees of installed packages.
 */
export const probeClientPython = (python: string): Effect.Effect<ClientPython, ConfigError> =>
  Effect.tryPromise({
    try: async () => {
      const { stdout } = await run(python, ["-c", PROBE], { cwd: os.tmpdir(), timeout: PROBE_TIMEOUT_MS, maxBuffer: 64 * 1024 ** 2 })
      return { executable: python, ...(JSON.parse(stdout) as Omit<ClientPython, "executable">) }
    },
    catch: (cause) =>
      new ConfigError({
        field: "python",
        message: `${python} cannot be inspected as a Python 3.9+ interpreter: ${(cause instanceof Error ? cause.message : String(cause)).split("\n").slice(-2).join(" ").trim()}`
      })
  }).pipe(
    Effect.filterOrFail(
      (client) => client.implementation === "cpython" && /^3\.(9|[1-9]\d)\./.test(client.version),
      (client) => new ConfigError({ field: "python", message: `${python} is ${client.implementation} ${client.version}; Skyward mirrors CPython 3.9 or newer` })
    )
  )

const isFile = (file: string) => fs.stat(file).then((s) => s.isFile(), () => false)

/**
 * The interpreter the client's virtual environment was made from: what local nodes make their
 * own environments from. `sys._base_executable` when it lies outside the environment (3.11+),
 * else the `home` of its `pyvenv.cfg`, else the client itself (not a virtual environment).
 */
export const baseInterpreter = (client: ClientPython): Effect.Effect<string> =>
  Effect.promise(async () => {
    if (client.prefix === client.basePrefix) return client.executable
    if (!client.baseExecutable.startsWith(client.prefix + path.sep) && (await isFile(client.baseExecutable))) return client.baseExecutable
    const config = await fs.readFile(path.join(client.prefix, "pyvenv.cfg"), "utf8").catch(() => "")
    const home = /^home\s*=\s*(.+)$/m.exec(config)?.[1]?.trim()
    const [major, minor] = client.version.split(".")
    for (const name of [`python${major}.${minor}`, `python${major}`, "python"])
      if (home !== undefined && (await isFile(path.join(home, name)))) return path.join(home, name)
    return client.executable
  })
