import { spawn, type ChildProcessByStdio } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { createInterface } from "node:readline"
import type { Readable, Writable } from "node:stream"
import { Effect, type Scope } from "effect"
import { TransportError, type AgentChannel, type AgentLaunch } from "@skyward/contracts"

type AgentProcess = ChildProcessByStdio<Writable, Readable, Readable>

/** Milliseconds an agent gets to exit after its input closes, before SIGKILL. */
const EXIT_GRACE_MS = 2_000

const describeExit = (code: number | null, signal: NodeJS.Signals | null): string =>
  signal ? `the agent was killed by ${signal}` : `the agent exited with code ${code}`

const channelOf = (child: AgentProcess): AgentChannel => {
  const closeListeners: Array<(reason: string) => void> = []
  let closedReason: string | undefined
  const close = (reason: string) => {
    if (closedReason !== undefined) return
    closedReason = reason
    for (const listener of closeListeners) listener(reason)
  }
  child.on("exit", (code, signal) => close(describeExit(code, signal)))
  child.on("error", (error) => close(`the agent could not run: ${error.message}`))
  child.stdin.on("error", () => undefined) // EPIPE after the agent died is reported by "exit"
  return {
    write: (bytes) => closedReason === undefined && child.stdin.write(bytes),
    onData: (listener) => child.stdout.on("data", listener),
    onDiagnostic: (listener) => createInterface({ input: child.stderr }).on("line", listener),
    onClose: (listener) => {
      if (closedReason !== undefined) listener(closedReason)
      else closeListeners.push(listener)
    }
  }
}

const stop = (child: AgentProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) return resume(Effect.void)
    const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_GRACE_MS)
    child.once("exit", () => {
      clearTimeout(timer)
      resume(Effect.void)
    })
    child.stdin.end()
  })

/**
 * Starts `python -m skyward_worker` as a child of this process. Closing the scope closes its input
 * (the agent exits and kills its slots) and kills it if it lingers. If this process dies, the
 * agent sees its input close and exits on its own.
 */
export const startAgentProcess = (
  node: number,
  launch: AgentLaunch
): Effect.Effect<AgentChannel, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () => {
        // the node's temporary files (multiprocessing's forkserver socket, tasks' tempfile) live
        // beside its work folder, removed with it even when the agent itself was killed; unless that
        // would push the forkserver's socket path (+ ~32 bytes) past the 107 bytes a Unix socket allows
        const tmp = path.join(path.dirname(launch.workDir), "tmp")
        const own = tmp.length + 32 < 104
        if (own) fs.mkdirSync(tmp, { recursive: true, mode: 0o700 })
        return spawn(launch.python, ["-m", "skyward_worker", ...launch.args], {
          cwd: launch.workDir,
          env: { ...process.env, ...(own ? { TMPDIR: tmp } : {}), ...launch.env, PYTHONPATH: launch.pythonPath.join(":") },
          stdio: ["pipe", "pipe", "pipe"]
        })
      },
      catch: (cause) => new TransportError({ node, message: `cannot start the agent: ${cause}`, cause })
    }),
    stop
  ).pipe(Effect.map(channelOf))
