import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { runCommand } from "@skyward/host"
import { ConfigError, projectName, type Mirror } from "@skyward/contracts"
import { AGENT_REQUIREMENTS } from "@skyward/worker"
import { ensureClientSupport } from "./client-support.js"
import { buildLocalWheel, type WheelSource } from "./local-wheels.js"
import { baseInterpreter, probeClientPython, type InstalledDistribution } from "./probe.js"

/** The client's Python environment, as the workers will mirror it. */
export interface EnvironmentMirror {
  /** The interpreter the script runs in (as given: a virtual environment's `bin/python`). */
  readonly python: string
  /** Its version, "3.11.7". */
  readonly version: string
  /** The interpreter its environment was made from: local nodes make theirs from it. */
  readonly baseInterpreter: string
  /** What the Image takes over (`Image.mirror`); the Image's `python` is then "3.11". */
  readonly mirror: Mirror
  /** Folders to put last on the client's PYTHONPATH: what the bridge needs and the environment lacks. */
  readonly clientPath: ReadonlyArray<string>
  /** How the workers will differ from the client, one line each. */
  readonly notes: ReadonlyArray<string>
}

/** Distributions a node's environment brings itself. */
const NOT_MIRRORED = new Set(["pip"])

/** `1.2.3rc1` as [1, 2, 3]: enough to compare with an agent requirement's `>=` bound. */
const release = (version: string): number[] => (/^\d+(\.\d+)*/.exec(version)?.[0] ?? "0").split(".").map(Number)

const atLeast = (version: string, bound: string): boolean => {
  const [a, b] = [release(version), release(bound)]
  for (let i = 0; i < Math.max(a.length, b.length); i++) if ((a[i] ?? 0) !== (b[i] ?? 0)) return (a[i] ?? 0) > (b[i] ?? 0)
  return true
}

/** Where a distribution installed from something else than an index is built from, if it can be. */
const wheelSource = (dist: InstalledDistribution): WheelSource | { readonly requirement: string } | undefined => {
  const direct = dist.directUrl
  if (direct === null) return undefined
  if (direct.vcs_info) return { kind: "vcs", requirement: `${dist.name} @ ${direct.vcs_info.vcs}+${direct.url}@${direct.vcs_info.commit_id}` }
  if (!direct.url.startsWith("file:")) return { requirement: `${dist.name} @ ${direct.url}` }
  const local = fileURLToPath(direct.url)
  return direct.dir_info ? { kind: "folder", dir: local } : { kind: "archive", file: local }
}

const describeSource = (source: WheelSource, editable: boolean): string =>
  source.kind === "folder" ? `${editable ? "editable, " : ""}from ${source.dir}` : source.kind === "archive" ? `from ${source.file}` : `from ${source.requirement}`

/** A Python of the client's version that has pip (to build wheels and install support), if any. */
const pipPython = (candidates: ReadonlyArray<string>): Effect.Effect<string | undefined> =>
  Effect.gen(function* () {
    for (const candidate of candidates) {
      const result = yield* runCommand(candidate, ["-m", "pip", "--version"])
      if (result.code === 0) return candidate
    }
    return undefined
  })

/**
 * Reads the client's Python environment (`python`: the active virtual environment's interpreter,
 * or any Python) and makes the mirror the workers install: every distribution at its exact
 * version, and those installed from a folder (also editable), an archive or a VCS checkout as
 * wheels built on the client. What the bridge needs and the environment lacks (cloudpickle, cbor2,
 * lz4) is installed apart for the client, and the workers get the same versions. Nothing in the
 * user's environment changes. `onLine` hears what takes time (wheel builds).
 */
export const mirrorEnvironment = (python: string, onLine: (line: string) => void = () => undefined): Effect.Effect<EnvironmentMirror, ConfigError> =>
  Effect.gen(function* () {
    const client = yield* probeClientPython(python)
    const base = yield* baseInterpreter(client)
    const builder = yield* pipPython(client.pip ? [client.executable, base] : [base])
    const notes: string[] = []
    const pip: string[] = []
    const installed = new Map(client.distributions.map((d) => [projectName(d.name), d]))

    for (const dist of client.distributions) {
      if (NOT_MIRRORED.has(projectName(dist.name))) continue
      const pinned = `${dist.name}==${dist.version}`
      const source = wheelSource(dist)
      if (source === undefined || "requirement" in source) {
        pip.push(source?.requirement ?? pinned)
        continue
      }
      const from = describeSource(source, dist.directUrl?.dir_info?.editable === true)
      if (builder === undefined) {
        notes.push(`${dist.name} ${dist.version} (${from}): no pip to build its wheel with; the workers get ${pinned} from the index`)
        pip.push(pinned)
        continue
      }
      const built = yield* buildLocalWheel(dist.name, source, builder, client.version, () =>
        onLine(`building the wheel of ${dist.name} ${dist.version} (${from})`)
      )
      if ("failure" in built) notes.push(`${dist.name} ${dist.version} (${from}): ${built.failure}; the workers get ${pinned} from the index`)
      pip.push("failure" in built ? pinned : built.requirement)
    }

    // what the agent and the bridge need: the client's own version when recent enough, else installed apart
    const missing: string[] = []
    for (const requirement of AGENT_REQUIREMENTS) {
      const [name, bound] = requirement.split(">=") as [string, string | undefined]
      const have = installed.get(projectName(name))
      if (have === undefined) missing.push(requirement)
      else if (bound !== undefined && !atLeast(have.version, bound)) {
        notes.push(`${have.name} ${have.version} on the client is older than the workers need (${requirement}): they run the newest ${name}`)
        const at = pip.findIndex((r) => projectName(r) === projectName(name))
        if (at >= 0) pip.splice(at, 1)
      }
    }
    let clientPath: string[] = []
    if (missing.length > 0) {
      if (builder === undefined)
        return yield* new ConfigError({
          field: "python",
          message: `${python} lacks ${missing.join(", ")}, which the bridge to the pool needs, and no pip to install them apart: install them in its environment (${python} -m pip install ${missing.map((r) => `'${r}'`).join(" ")})`
        })
      const support = yield* ensureClientSupport(missing, builder, client.version)
      clientPath = [support.dir]
      pip.push(...support.pins)
    }
    return { python, version: client.version, baseInterpreter: base, mirror: { python: client.version, pip }, clientPath, notes }
  })
