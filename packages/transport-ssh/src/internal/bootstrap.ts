import { createHash, randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { BootstrapError, type BootstrapPlan, type BootstrapResult, type NodeInfo, type PythonModuleDir } from "@skyward/core"
import { Effect } from "effect"
import type { SshConnection } from "./connect.js"
import { exec, shellQuote, type ExecResult } from "./exec.js"
import { ENV_SCRIPT, PROBE_SCRIPT } from "./remote-scripts.js"
import { listFiles, makeRemoteDirs, openSftp, putFile, uploadTree, walk, writeRemoteFile } from "./sftp.js"
import { ensureWheelhouse, linuxPlatforms, requirementsOf, type WheelPlatform } from "./wheelhouse.js"

/** How nodes get their Python packages. */
export type InstallMode = "wheelhouse" | "index"

/** Bootstrap settings of the SSH transport. */
export interface RemoteBootstrapOptions {
  /**
   * "wheelhouse" (default): the client downloads wheels once for the node's platform and uploads
   * them; nodes install with no index (they need no internet). "index": each node runs pip
   * against the Image's indexes itself.
   */
  readonly install: InstallMode
  /** Skyward's folder on the host; relative paths are under the login's home. Default `.cache/skyward`. */
  readonly remoteRoot: string
}

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
  readonly modules: ReadonlyArray<string>
}

const moduleHashes = new Map<string, Promise<string>>()

/** Hash of a module folder's files (names and contents), computed once per process. */
export const hashModuleDir = (dir: string): Promise<string> => {
  let hash = moduleHashes.get(dir)
  if (hash === undefined) {
    hash = (async () => {
      const digest = createHash("sha256")
      for (const file of await walk(dir)) {
        digest.update(`${file}\0`)
        digest.update(await fs.readFile(path.join(dir, file)))
        digest.update("\0")
      }
      return digest.digest("hex").slice(0, 16)
    })()
    moduleHashes.set(dir, hash)
  }
  return hash
}

const pythonCandidates = (wanted: string) => (wanted === "3" ? ["python3"] : [`python${wanted}`, "python3"])

/** Runs a Python program on the host's python3 (or `python3.X`), the program on stdin. */
const runRemotePython = (connection: SshConnection, wanted: string, script: string, spec: unknown, onLine?: (line: string) => void) => {
  const candidates = pythonCandidates(wanted)
  const command =
    `for p in ${candidates.join(" ")}; do if command -v "$p" >/dev/null 2>&1; then exec "$p" - ${shellQuote(JSON.stringify(spec))}; fi; done; ` +
    `echo "SKYWARD-NO-PYTHON" >&2; exit 127`
  return exec(connection, command, { stdin: script, ...(onLine ? { onLine } : {}) })
}

const lastErrorLine = (tail: string): string =>
  tail
    .split("\n")
    .reverse()
    .find((line) => /error/i.test(line) && !line.startsWith("SKYWARD-"))
    ?.trim() ?? "see the output above"

/** Turns what the probe saw into facts, or a bootstrap error that says what to install. */
const checkFacts = (result: ExecResult, node: NodeInfo, where: string, wanted: string, install: InstallMode) =>
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
        `image.python asks for Python ${wanted}, but node ${node.index} (${where}) has ${version} and no python${wanted} on its PATH: install python${wanted} there or change image.python`
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

const insideWorkDir = (workDir: string, target: string) => {
  const destination = path.posix.normalize(path.posix.join(workDir, target))
  return destination.startsWith(workDir + "/") ? destination : undefined
}

/**
 * Bootstraps a node over its connection: checks its Python, makes (once) the environment
 * `<root>/envs/<imageHash>-cpXY` from a shipped wheelhouse or an index, uploads the Python
 * modules to `<root>/modules/<hash>/<name>`, creates a work folder with the Image's files and runs
 * the plugins' ops. `onWorkDir` learns the work folder so the session can remove it.
 */
export const bootstrapNode = (
  connection: SshConnection,
  node: NodeInfo,
  plan: BootstrapPlan,
  options: RemoteBootstrapOptions,
  onLine: (line: string) => void,
  onWorkDir: (dir: string) => void
): Effect.Effect<BootstrapResult, BootstrapError> =>
  Effect.scoped(
    Effect.gen(function* () {
      const where = connection.label
      const wanted = plan.image.python
      const fail = (message: string, output = "") => new BootstrapError({ node: node.index, message, output })
      const channelFailure = (e: { message: string }) => fail(`node ${node.index} (${where}): ${e.message}`)

      const modules = yield* Effect.forEach(plan.modules, (m: PythonModuleDir) =>
        Effect.promise(() => hashModuleDir(m.path)).pipe(Effect.map((hash) => ({ ...m, remote: `modules/${hash}/${m.name}` })))
      )
      const envTemplate = `envs/${plan.imageHash}-cp{pytag}`
      const probe = yield* runRemotePython(connection, wanted, PROBE_SCRIPT, {
        root: options.remoteRoot,
        env: envTemplate,
        modules: modules.map((m) => m.remote)
      }).pipe(Effect.mapError(channelFailure))
      const facts = yield* checkFacts(probe, node, where, wanted, options.install)
      const pyTag = `${facts.version[0]}${facts.version[1]}`
      const envDir = path.posix.join(facts.root, envTemplate.replace("{pytag}", pyTag))
      const sftp = yield* openSftp(connection).pipe(Effect.mapError(channelFailure))
      let cached = facts.envReady

      if (!facts.envReady) {
        let spec: Record<string, unknown>
        if (options.install === "wheelhouse") {
          const platforms = linuxPlatforms(facts.machine, facts.libc)
          const platform: WheelPlatform = {
            pythonVersion: `${facts.version[0]}.${facts.version[1]}`,
            abi: `cp${pyTag}`,
            platforms,
            key: platforms[0]!
          }
          const wheelhouse = yield* ensureWheelhouse(plan.image, plan.imageHash, platform, `node ${node.index} (${where})`, onLine).pipe(
            Effect.mapError((e) => fail(e.message, e.output))
          )
          const wheels = path.posix.join(facts.root, "wheels")
          yield* makeRemoteDirs(connection, [wheels]).pipe(Effect.mapError(channelFailure))
          const present = yield* listFiles(sftp, wheels)
          const all = [...wheelhouse.files, ...(wheelhouse.files.includes(wheelhouse.runner) ? [] : [wheelhouse.runner])]
          const sizes = yield* Effect.promise(() => Promise.all(all.map((f) => fs.stat(path.join(wheelhouse.dir, f)).then((s) => s.size))))
          const missing = all.filter((f, i) => present.get(f) !== sizes[i])
          if (missing.length > 0) onLine(`uploading ${missing.length} of ${all.length} wheels to ${where}`)
          yield* Effect.forEach(missing, (f) => putFile(sftp, path.join(wheelhouse.dir, f), path.posix.join(wheels, f)), { concurrency: 4, discard: true }).pipe(
            Effect.mapError(channelFailure)
          )
          spec = { env: envDir, mode: "wheelhouse", wheels, files: wheelhouse.files, runner: wheelhouse.runner, requirements: requirementsOf(plan.image), apt: plan.image.apt }
        } else {
          spec = { env: envDir, mode: "index", indexes: plan.image.pipIndexes, requirements: requirementsOf(plan.image), apt: plan.image.apt }
        }
        const built = yield* runRemotePython(connection, wanted, ENV_SCRIPT, spec, (line) => {
          if (!line.startsWith("SKYWARD-")) onLine(line)
        }).pipe(Effect.mapError(channelFailure))
        if (built.code !== 0) {
          const apt = plan.image.apt.join(" ")
          if (built.stdout.includes("SKYWARD-FAIL apt-root"))
            return yield* fail(`image.apt (${apt}) needs root or sudo on node ${node.index} (${where}), and ${connection.user} is not root and has no sudo`, built.tail)
          if (built.stdout.includes("SKYWARD-FAIL apt"))
            return yield* fail(
              `apt-get install ${apt} failed on node ${node.index} (${where}): ${lastErrorLine(built.tail)} ` +
                `(image.apt needs root or passwordless sudo, and a reachable package mirror)`,
              built.tail
            )
          const stage = built.stdout.includes("SKYWARD-FAIL venv") ? "python -m venv" : "pip install"
          const hint =
            stage === "pip install" && options.install === "index"
              ? " (with install: \"index\" the node itself must reach the package index)"
              : ""
          return yield* fail(`${stage} failed on node ${node.index} (${where}): ${lastErrorLine(built.tail)}${hint}`, built.tail)
        }
        cached = built.stdout.includes("SKYWARD-ENV cached")
      }

      const pythonPath: string[] = []
      for (const m of modules) {
        const remote = path.posix.join(facts.root, m.remote)
        pythonPath.push(remote)
        if (facts.modules.includes(m.remote)) continue
        yield* uploadTree(sftp, m.path, remote).pipe(Effect.mapError(channelFailure))
        yield* writeRemoteFile(sftp, path.posix.join(remote, ".skyward-complete"), "").pipe(Effect.mapError(channelFailure))
      }

      const workDir = path.posix.join(facts.root, "work", `node${node.index}-${randomBytes(6).toString("hex")}`)
      yield* makeRemoteDirs(connection, [workDir]).pipe(Effect.mapError(channelFailure))
      onWorkDir(workDir)
      for (const [target, source] of Object.entries(plan.image.files)) {
        const destination = insideWorkDir(workDir, target)
        if (destination === undefined) return yield* fail(`image.files target ${JSON.stringify(target)} leaves the work folder`)
        yield* uploadTree(sftp, source, destination).pipe(Effect.mapError((e) => fail(`cannot ship ${source} to node ${node.index} (${where}): ${e.message}`)))
      }

      const python = path.posix.join(envDir, "bin", "python")
      const exports = Object.entries({ ...plan.image.env, VIRTUAL_ENV: envDir })
        .map(([k, v]) => `${k}=${shellQuote(v)}`)
        .join(" ")
      for (const op of plan.ops) {
        const result = yield* exec(
          connection,
          `cd ${shellQuote(workDir)} && PATH=${shellQuote(path.posix.join(envDir, "bin"))}:"$PATH" ${exports} sh -c ${shellQuote(op)}`,
          { onLine }
        ).pipe(Effect.mapError(channelFailure))
        if (result.code !== 0)
          return yield* fail(`bootstrap command failed on node ${node.index} (${where}) with exit ${result.code ?? result.signal}: ${op}`, result.tail)
      }
      return { python, pythonPath, workDir, cached }
    })
  )
