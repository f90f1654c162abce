import fs from "node:fs/promises"
import path from "node:path"
import { Effect, Layer } from "effect"
import { BootstrapError, TransportError } from "../errors.js"
import type { NodeInfo } from "../cluster.js"
import { Transport, uploadDestination, type BootstrapPlan, type NodeSession } from "../transport.js"
import { startAgentProcess } from "./agent-process.js"
import { prepareLocalEnvironment } from "./environment.js"
import { runCommand } from "./shell.js"
import { ownedTempDir } from "./temp-dir.js"

const makeWorkDir = (node: NodeInfo) =>
  ownedTempDir(`skyward-node${node.index}`).pipe(
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

const bootstrap = (node: NodeInfo, workDir: string) => (plan: BootstrapPlan, onLine: (line: string) => void) =>
  Effect.gen(function* () {
    const env = yield* prepareLocalEnvironment(plan.image, plan.imageHash, node.index, onLine)
    yield* Effect.forEach(Object.entries(plan.image.files), ([target, source]) =>
      copyInto(node.index, workDir, source, target).pipe(Effect.mapError((e) => new BootstrapError({ node: node.index, message: `image.files: ${e.message}`, output: "" })))
    )
    const opsEnv = { ...process.env, ...plan.image.env, VIRTUAL_ENV: env.dir, PATH: `${path.dirname(env.python)}:${process.env.PATH ?? ""}` }
    for (const op of plan.ops) {
      const result = yield* runCommand("/bin/sh", ["-c", op], { env: opsEnv, cwd: workDir, onLine })
      if (result.code !== 0)
        return yield* new BootstrapError({ node: node.index, message: `bootstrap command failed on node ${node.index}: ${op}`, output: result.tail })
    }
    return { python: env.python, pythonPath: plan.modules.map((m) => m.path), workDir, cached: env.cached }
  })

/** The local Transport: each node is a child process of this one, its environment a cached venv. */
export const LocalTransportLayer: Layer.Layer<Transport> = Layer.succeed(Transport, {
  name: "local",
  connect: (node) =>
    Effect.map(makeWorkDir(node), (workDir): NodeSession => {
      let bootstrapped = false
      return {
        node,
        bootstrap: (plan, onLine) => Effect.tap(bootstrap(node, workDir)(plan, onLine), () => Effect.sync(() => (bootstrapped = true))),
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
