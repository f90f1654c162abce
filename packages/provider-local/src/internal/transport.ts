import fs from "node:fs/promises"
import path from "node:path"
import { Effect, Layer } from "effect"
import { ownedTempDir, runCommand } from "@skyward/host"
import { BootstrapError, Transport, TransportError, uploadDestination, type BootstrapPlan, type NodeInfo, type NodeSession } from "@skyward/contracts"
import { startAgentProcess } from "./agent-process.js"
import { prepareLocalEnvironment } from "./environment.js"
import { copyWorkdir } from "./workdir-copy.js"

/** A node's private folder: `work/` (its tasks' current directory) and `tmp/` (their TMPDIR, see agent-process). */
const makeWorkDir = (node: NodeInfo) =>
  ownedTempDir(`skyward-node${node.index}`).pipe(
    Effect.map((session) => path.join(session, "work")),
    Effect.tap((workDir) => Effect.promise(() => fs.mkdir(workDir, { mode: 0o700 }))),
    Effect.mapError((cause) => new TransportError({ node: node.index, message: `cannot create a work folder: ${cause.message}`, cause }))
  )

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
    Effect.map(makeWorkDir(node), (workDir): NodeSession => {
      let bootstrapped = false
      return {
        node,
        bootstrap: (plan, onLine) => Effect.tap(bootstrap(node, workDir, python)(plan, onLine), () => Effect.sync(() => (bootstrapped = true))),
        startAgent: (launch) => startAgentProcess(node.index, launch),
        upload: (localPath, target) =>
          Effect.suspend(() =>
            bootstrapped
              ? copyInto(node.index, workDir, localPath, target)
              : Effect.fail(new TransportError({ node: node.index, message: `node ${node.index} is not bootstrapped: upload after bootstrap, which makes its work folder` }))
          )
      }
    })
})
