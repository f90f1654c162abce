import fs from "node:fs/promises"
import path from "node:path"
import { Effect, Layer } from "effect"
import { BootstrapError, TransportError } from "../errors.js"
import type { NodeInfo } from "../cluster.js"
import { Transport, type BootstrapPlan, type NodeSession } from "../transport.js"
import { startAgentProcess } from "./agent-process.js"
import { prepareLocalEnvironment } from "./environment.js"
import { runCommand } from "./shell.js"
import { ownedTempDir } from "./temp-dir.js"

const makeWorkDir = (node: NodeInfo) =>
  ownedTempDir(`skyward-node${node.index}`).pipe(
    Effect.mapError((cause) => new TransportError({ node: node.index, message: `cannot create a work folder: ${cause.message}`, cause }))
  )

const copyFiles = (files: Readonly<Record<string, string>>, workDir: string, node: number) =>
  Effect.forEach(Object.entries(files), ([target, source]) =>
    Effect.tryPromise({
      try: async () => {
        const destination = path.resolve(workDir, target)
        if (!destination.startsWith(workDir + path.sep))
          throw new Error(`image.files target ${JSON.stringify(target)} leaves the work folder`)
        await fs.mkdir(path.dirname(destination), { recursive: true })
        await fs.cp(source, destination, { recursive: true })
      },
      catch: (cause) => new BootstrapError({ node, message: `cannot ship ${source}: ${cause}`, output: "" })
    })
  )

const bootstrap = (node: NodeInfo, workDir: string) => (plan: BootstrapPlan, onLine: (line: string) => void) =>
  Effect.gen(function* () {
    const env = yield* prepareLocalEnvironment(plan.image, plan.imageHash, node.index, onLine)
    yield* copyFiles(plan.image.files, workDir, node.index)
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
    Effect.map(
      makeWorkDir(node),
      (workDir): NodeSession => ({
        node,
        bootstrap: bootstrap(node, workDir),
        startAgent: (launch) => startAgentProcess(node.index, launch)
      })
    )
})
