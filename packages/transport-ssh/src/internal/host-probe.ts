import { BootstrapError, type NodeInfo } from "@skyward/contracts"
import { Effect } from "effect"
import type { InstallMode } from "./bootstrap-options.js"
import type { SshConnection } from "./connect.js"
import type { ExecResult } from "./exec.js"
import { PROBE_SCRIPT } from "./remote-scripts.js"
import { pythonCandidates, runRemotePython } from "./remote-python.js"

/** What the probe learns about a host. */
export interface HostFacts {
  readonly version: [number, number, number]
  readonly executable: string
  readonly venv: boolean
  readonly ensurepip: boolean
  readonly machine: string
  readonly system: string
  readonly libc: [string, string]
  readonly home: string
  readonly root: string
  readonly cpus: number
  readonly envReady: boolean
  /** The mirrored requirements the ready environment was made without. */
  readonly dropped: ReadonlyArray<string>
  readonly modules: ReadonlyArray<string>
}

/** What the probe looks for under Skyward's folder on the host. */
export interface ProbeSpec {
  /** Skyward's folder (relative: under the home). */
  readonly root: string
  /** The environment's folder under it; `{pytag}` stands for the host's "311". */
  readonly env: string
  /** Module folders under it. */
  readonly modules: ReadonlyArray<string>
}

/** Turns what the probe saw into facts, or a bootstrap error that says what to install. */
const checkFacts = (result: ExecResult, node: NodeInfo, where: string, wanted: string, install: InstallMode, mirrored: string | undefined) =>
  Effect.gen(function* () {
    const fail = (message: string) => new BootstrapError({ node: node.index, message, output: result.tail })
    if (result.stderr.includes("SKYWARD-NO-PYTHON"))
      return yield* fail(
        `node ${node.index} (${where}) has no ${pythonCandidates(wanted).join(" or ")} on its PATH: install Python 3.9 or newer with the venv module ` +
          `(Debian/Ubuntu: apt-get install python3 python3-venv; RHEL/Fedora: dnf install python3)`
      )
    const line = result.stdout.split("\n").find((l) => l.startsWith("SKYWARD-PROBE "))
    if (result.code !== 0 || line === undefined)
      return yield* fail(`cannot inspect the Python of node ${node.index} (${where}): ${result.tail.trim().split("\n").slice(-3).join(" / ") || `exit ${result.code}`}`)
    const facts = JSON.parse(line.slice("SKYWARD-PROBE ".length)) as HostFacts
    const [major, minor, micro] = facts.version
    const version = `${major}.${minor}.${micro}`
    if (major !== 3 || minor < 9)
      return yield* fail(
        `node ${node.index} (${where}) has Python ${version} (${facts.executable}); Skyward needs Python 3.9 or newer: ` +
          `install a newer python3 with its venv module (e.g. apt-get install python3.11 python3.11-venv) and make it python3 on the PATH`
      )
    if (wanted !== "3" && `${major}.${minor}` !== wanted)
      return yield* fail(
        mirrored === undefined
          ? `image.python asks for Python ${wanted}, but node ${node.index} (${where}) has ${version} and no python${wanted} on its PATH: install python${wanted} there or change image.python`
          : `the workers mirror the client's Python ${mirrored} environment, but node ${node.index} (${where}) has Python ${version} and no python${wanted} on its PATH: ` +
              `install python${wanted} with its venv module there, or run skyward from a virtual environment of Python ${major}.${minor}`
      )
    if (!facts.venv || (install === "index" && !facts.ensurepip))
      return yield* fail(
        `node ${node.index} (${where}): Python ${version} (${facts.executable}) lacks the ${facts.venv ? "ensurepip" : "venv"} module that virtual environments need: ` +
          `install it (Debian/Ubuntu: apt-get install python3-venv, or python${major}.${minor}-venv)`
      )
    if (facts.system !== "Linux")
      return yield* fail(`node ${node.index} (${where}) runs ${facts.system}; the SSH transport supports Linux nodes`)
    return facts
  })

/**
 * Inspects the host's Python (`image.python` is `wanted`; `mirrored`, the client's version when the
 * workers mirror its environment) and what of Skyward's cache it has.
 */
export const probeHost = (
  connection: SshConnection,
  node: NodeInfo,
  wanted: string,
  install: InstallMode,
  spec: ProbeSpec,
  mirrored?: string
): Effect.Effect<HostFacts, BootstrapError> =>
  runRemotePython(connection, wanted, PROBE_SCRIPT, spec).pipe(
    Effect.mapError((e) => new BootstrapError({ node: node.index, message: `node ${node.index} (${connection.label}): ${e.message}`, output: "" })),
    Effect.flatMap((result) => checkFacts(result, node, connection.label, wanted, install, mirrored))
  )
