import { createHash, randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import path from "node:path"
import { BootstrapError, type BootstrapPlan, type BootstrapResult, type NodeInfo, type PythonModuleDir } from "@skyward/contracts"
import { Effect } from "effect"
import type { SshConnection } from "./connect.js"
import { exec, execChecked, shellQuote } from "./exec.js"
import { probeHost } from "./host-probe.js"
import { mirrorNotes } from "./node-notes.js"
import { ensureRemoteEnvironment } from "./remote-env.js"
import { openSftp, uploadTree, walk, writeRemoteFile } from "./sftp.js"
import { shipWorkdir } from "./workdir-ship.js"
import type { RemoteBootstrapOptions } from "./bootstrap-options.js"

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

/**
 * Makes folders (and their parents) readable by the login alone: made under umask 077, and set to
 * 0700 when they already existed (a store made by an older Skyward, under the login's umask).
 */
const makePrivateDirs = (connection: SshConnection, dirs: ReadonlyArray<string>) => {
  const quoted = dirs.map(shellQuote).join(" ")
  return Effect.asVoid(execChecked(connection, `umask 077 && mkdir -p ${quoted} && chmod 700 ${quoted}`, "creating private folders"))
}

/**
 * A plugin's shell command `op` as a script for `sh -s` on the host, run in the work folder with the
 * environment's bin/ first on PATH. The Image's variables are set inside the script, which travels
 * on the channel's input: every user of the host can read a command line. `op` reads /dev/null,
 * not the rest of the script.
 */
const opScript = (op: string, workDir: string, envDir: string, env: Readonly<Record<string, string>>): string =>
  [
    "set -e",
    ...Object.entries({ ...env, VIRTUAL_ENV: envDir }).map(([k, v]) => `export ${k}=${shellQuote(v)}`),
    `PATH=${shellQuote(path.posix.join(envDir, "bin"))}:"$PATH"; export PATH`,
    `cd ${shellQuote(workDir)} && sh -c ${shellQuote(op)} </dev/null`,
    ""
  ].join("\n")

const insideWorkDir = (workDir: string, target: string) => {
  const destination = path.posix.normalize(path.posix.join(workDir, target))
  return destination.startsWith(workDir + "/") ? destination : undefined
}

/**
 * Bootstraps a node over its connection: checks its Python, makes (once) the environment
 * `<root>/envs/<imageHash>-cpXY` from a shipped wheelhouse or an index, uploads the Python
 * modules to `<root>/modules/<hash>/<name>`, makes a work folder from the working directory (by
 * content, through the host's store `<root>/files`) with the Image's files on top, and runs the
 * plugins' ops there. `onWorkDir` learns the work folder so the session can remove it.
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
      const fail = (message: string, output = "") => new BootstrapError({ node: node.index, message, output })
      const channelFailure = (e: { message: string }) => fail(`node ${node.index} (${where}): ${e.message}`)

      const modules = yield* Effect.forEach(plan.modules, (m: PythonModuleDir) =>
        // only the named package of the folder travels (a plugin's tests beside it stay behind)
        Effect.promise(() => hashModuleDir(path.join(m.path, m.name))).pipe(Effect.map((hash) => ({ ...m, remote: `modules/${hash}/${m.name}` })))
      )
      const envTemplate = `envs/${plan.imageHash}-cp{pytag}`
      const facts = yield* probeHost(connection, node, plan.image.python, options.install, {
        root: options.remoteRoot,
        env: envTemplate,
        modules: modules.map((m) => m.remote)
      }, plan.image.mirror?.python)
      const envDir = path.posix.join(facts.root, envTemplate.replace("{pytag}", `${facts.version[0]}${facts.version[1]}`))
      const sftp = yield* openSftp(connection).pipe(Effect.mapError(channelFailure))
      const pythonPath = modules.map((m) => path.posix.join(facts.root, m.remote))
      const workDir = path.posix.join(facts.root, "work", `node${node.index}-${randomBytes(6).toString("hex")}`)
      const store = path.posix.join(facts.root, "files")
      const files: Array<readonly [source: string, destination: string]> = []
      for (const [target, source] of Object.entries(plan.image.files)) {
        const destination = insideWorkDir(workDir, target)
        if (destination === undefined) return yield* fail(`image.files target ${JSON.stringify(target)} leaves the work folder`)
        files.push([source, destination])
      }

      // the Python modules, the work folder and its files need no environment: they travel while
      // the host builds it (a cold host's pip run is most of its bootstrap)
      const shipFiles = Effect.gen(function* () {
        for (const m of modules) {
          if (facts.modules.includes(m.remote)) continue
          const remote = path.posix.join(facts.root, m.remote)
          yield* uploadTree(sftp, path.join(m.path, m.name), path.posix.join(remote, m.name)).pipe(Effect.mapError(channelFailure))
          yield* writeRemoteFile(sftp, path.posix.join(remote, ".skyward-complete"), "").pipe(Effect.mapError(channelFailure))
        }
        // known before it exists, so the session removes it however far this got
        onWorkDir(workDir)
        // copies of the user's project: the login's alone, like the local work folder
        yield* makePrivateDirs(connection, [path.posix.dirname(workDir), workDir, ...(plan.workdir ? [store] : [])]).pipe(Effect.mapError(channelFailure))
        const workdir = plan.workdir
          ? yield* shipWorkdir({ connection, sftp, node: node.index, python: plan.image.python, store, workDir, onLine }, plan.workdir)
          : undefined
        for (const [source, destination] of files) {
          yield* uploadTree(sftp, source, destination).pipe(Effect.mapError((e) => fail(`cannot ship ${source} to node ${node.index} (${where}): ${e.message}`)))
        }
        return workdir
      })
      const [env, workdir] = yield* Effect.all([ensureRemoteEnvironment({ connection, sftp, node, plan, facts, options, envDir, onLine }), shipFiles], {
        concurrency: 2
      })

      const python = path.posix.join(envDir, "bin", "python")
      for (const op of plan.ops) {
        const result = yield* exec(connection, "sh -s", { stdin: opScript(op, workDir, envDir, plan.image.env), onLine }).pipe(Effect.mapError(channelFailure))
        if (result.code !== 0)
          return yield* fail(`bootstrap command failed on node ${node.index} (${where}) with exit ${result.code ?? result.signal}: ${op}`, result.tail)
      }
      const notes = mirrorNotes(plan.image, facts, env.dropped, node.index, where)
      return { python, pythonPath, workDir, cached: env.cached, notes, ...(workdir ? { workdir } : {}) }
    })
  )
