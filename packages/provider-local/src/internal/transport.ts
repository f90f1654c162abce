import fs from "node:fs/promises"
import path from "node:path"
import { Effect, Layer, type Scope } from "effect"
import { ownedTempDir, runCommand } from "@skyward/host"
import { BootstrapError, Transport, TransportError, uploadDestination, type BootstrapPlan, type NodeInfo, type NodeSession } from "@skyward/contracts"
import { startAgentProcess } from "./agent-process.js"
import { prepareLocalEnvironment } from "./environment.js"
import { copyWorkdir } from "./workdir-copy.js"

/** A node's private folders, removed with its session. */
interface NodeFolders {
  /** Its tasks' current directory. */
  readonly workDir: string
  /** Its agent's and tasks' TMPDIR (multiprocessing's forkserver socket, tasks' temporary files). */
  readonly tmpDir: string
}

/** Bytes a forkserver socket path adds to TMPDIR (`/pymp-XXXXXXXX/listener-XXXXXXXX`), with room to spare. */
const SOCKET_SUFFIX = 32
/** The longest Unix socket path (sun_path holds 104 bytes on macOS, 108 on Linux, with the final NUL). */
const MAX_SOCKET_PATH = 103

/**
 * A node's `work/` and `tmp/` in one private folder; when that `tmp/` would make the forkserver's
 * socket path too long (a long TMPDIR, as macOS's), the TMPDIR is a short private folder in /tmp.
 */
const makeFolders = (node: NodeInfo): Effect.Effect<NodeFolders, TransportError, Scope.Scope> =>
  Effect.gen(function* () {
    const session = yield* ownedTempDir(`skyward-node${node.index}`)
    const workDir = path.join(session, "work")
    yield* Effect.promise(() => fs.mkdir(workDir, { mode: 0o700 }))
    const beside = path.join(session, "tmp")
    const tmpDir = beside.length + SOCKET_SUFFIX <= MAX_SOCKET_PATH ? beside : yield* ownedTempDir(`skyward-node${node.index}-tmp`, "/tmp")
    if (tmpDir === beside) yield* Effect.promise(() => fs.mkdir(beside, { mode: 0o700 }))
    return { workDir, tmpDir }
  }).pipe(Effect.mapError((cause) => new TransportError({ node: node.index, message: `cannot create a work folder: ${cause.message}`, cause })))

/** `NodeSession.upload` on this machine: a copy into the work folder (links followed, as over SSH). */
const copyInto = (node: number, workDir: string, localPath: string, target: string): Effect.Effect<string, TransportError> =>
  Effect.gen(function* () {
    const destination = uploadDestination(workDir, target)
    if (destination === undefined)
      return yield* new TransportError({ node, message: `upload target ${JSON.stringify(target)} is not a relative path inside the work folder of node ${node}` })
    yield* Effect.tryPromise({
      try: async () => {
        await fs.mkdir(path.dirname(destination), { recursive: true })
        await fs.cp(localPath, destination, { recursive: true, dereference: true })
      },
      catch: (cause) =>
        new TransportError({ node, message: `cannot upload ${localPath} to node ${node}: ${cause instanceof Error ? cause.message : String(cause)}`, cause })
    })
    return destination
  })

const bootstrap = (node: NodeInfo, workDir: string, python: string | undefined) => (plan: BootstrapPlan, onLine: (line: string) => void) =>
  Effect.gen(function* () {
    const env = yield* prepareLocalEnvironment(plan.image, plan.imageHash, node.index, onLine, python)
    const workdir = plan.workdir ? yield* copyWorkdir(node.index, plan.workdir, workDir) : undefined
    yield* Effect.forEach(Object.entries(plan.image.files), ([target, source]) =>
      copyInto(node.index, workDir, source, target).pipe(Effect.mapError((e) => new BootstrapError({ node: node.index, message: `image.files: ${e.message}`, output: "" })))
    )
    const opsEnv = { ...process.env, ...plan.image.env, VIRTUAL_ENV: env.dir, PATH: `${path.dirname(env.python)}:${process.env.PATH ?? ""}` }
    for (const op of plan.ops) {
      const result = yield* runCommand("/bin/sh", ["-c", op], { env: opsEnv, cwd: workDir, onLine })
      if (result.code !== 0)
        return yield* new BootstrapError({ node: node.index, message: `bootstrap command failed on node ${node.index}: ${op}`, output: result.tail })
    }
    return {
      python: env.python,
      pythonPath: plan.modules.map((m) => m.path),
      workDir,
      cached: env.cached,
      notes: env.notes,
      ...(workdir ? { workdir } : {})
    }
  })

/**
 * The local Transport: each node is a child process of this one, its environment a cached venv
 * made from `python` (an interpreter's path; default: the Image's `python` found on PATH).
 */
export const localTransportLayer = (python?: string): Layer.Layer<Transport> => Layer.succeed(Transport, {
  name: "local",
  connect: (node) =>
    Effect.map(makeFolders(node), ({ workDir, tmpDir }): NodeSession => {
      let bootstrapped = false
      return {
        node,
        bootstrap: (plan, onLine) => Effect.tap(bootstrap(node, workDir, python)(plan, onLine), () => Effect.sync(() => (bootstrapped = true))),
        startAgent: (launch) => startAgentProcess(node.index, launch, tmpDir),
        upload: (localPath, target) =>
          Effect.suspend(() =>
            bootstrapped
              ? copyInto(node.index, workDir, localPath, target)
              : Effect.fail(new TransportError({ node: node.index, message: `node ${node.index} is not bootstrapped: upload after bootstrap, which makes its work folder` }))
          )
      }
    })
})
