import { spawn, type ChildProcessByStdio } from "node:child_process"
import { createInterface } from "node:readline"
import type { Readable, Writable } from "node:stream"
import { Effect, type Scope } from "effect"
import { TransportError, type AgentChannel, type AgentLaunch } from "@skyward/contracts"

type AgentProcess = ChildProcessByStdio<Writable, Readable, Readable>

/** Milliseconds an agent gets to exit after its input closes, before SIGKILL. */
const EXIT_GRACE_MS = 2_000
/**
 * Milliseconds the agent's output may stay open after it exited: its last lines are read, but a
 * process its tasks left behind holding its stderr must not keep this process alive.
 */
const OUTPUT_GRACE_MS = 500

const describeExit = (code: number | null, signal: NodeJS.Signals | null): string =>
  signal ? `the agent was killed by ${signal}` : `the agent exited with code ${code}`

/** Stops reading the agent's output once it exited and a grace period passed (see {@link OUTPUT_GRACE_MS}). */
const releaseOutputAfterExit = (child: AgentProcess): void => {
  child.once("exit", () => {
    const timer = setTimeout(() => {
      child.stdout.destroy()
      child.stderr.destroy()
    }, OUTPUT_GRACE_MS)
    timer.unref()
  })
}

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
  releaseOutputAfterExit(child)
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

/** SIGKILLs what is left of the agent's process group: what its tasks started, if the agent could not end it. */
const killGroup = (child: AgentProcess) => {
  if (child.pid === undefined) return
  try {
    process.kill(-child.pid, "SIGKILL")
  } catch {
    // nothing left
  }
}

const stop = (child: AgentProcess) =>
  Effect.async<void>((resume) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      killGroup(child)
      return resume(Effect.void)
    }
    const timer = setTimeout(() => child.kill("SIGKILL"), EXIT_GRACE_MS)
    child.once("exit", () => {
      clearTimeout(timer)
      killGroup(child)
      resume(Effect.void)
    })
    child.stdin.end()
  })

/**
 * Starts `python -m skyward_worker` as a child of this process, with `tmpDir` as its TMPDIR, in a
 * process group (and session) of its own: what its tasks start joins it, and closing the scope ends
 * the whole group, whatever the agent could not end itself. Closing the scope closes the agent's
 * input (the agent exits and kills its slots) and kills it if it lingers; a process its tasks left
 * holding its output never delays that. If this process dies, the agent sees its input close and
 * exits on its own.
 */
export const startAgentProcess = (
  node: number,
  launch: AgentLaunch,
  tmpDir: string
): Effect.Effect<AgentChannel, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    Effect.try({
      try: () =>
        spawn(launch.python, ["-m", "skyward_worker", ...launch.args], {
          cwd: launch.workDir,
          env: { ...process.env, TMPDIR: tmpDir, ...launch.env, PYTHONPATH: launch.pythonPath.join(":") },
          stdio: ["pipe", "pipe", "pipe"],
          // its own session: its group is its own to kill, and a terminal's Ctrl-C reaches Node alone
          detached: true
        }),
      catch: (cause) => new TransportError({ node, message: `cannot start the agent: ${cause}`, cause })
    }),
    stop
  ).pipe(Effect.map(channelOf))
