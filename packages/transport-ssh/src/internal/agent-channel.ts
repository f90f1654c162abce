import path from "node:path"
import { createInterface } from "node:readline"
import { type AgentChannel, type AgentLaunch, TransportError } from "@skyward/contracts"
import { Effect, type Scope } from "effect"
import type { ClientChannel } from "ssh2"
import { ENV_ON_INPUT_FLAG, envInputLine } from "@skyward/worker"
import type { SshConnection } from "./connect.js"
import { exec, openExec, shellQuote } from "./exec.js"

/** Milliseconds an agent gets to exit after its input closes, before it is killed. */
const EXIT_GRACE_MS = 3_000
/**
 * Milliseconds the channel may stay open after the agent exited: sshd keeps it open while anything
 * holds the agent's output, such as a process its tasks left behind; the pool does not wait for that.
 */
const OUTPUT_GRACE_MS = 500
const PID_PREFIX = "SKYWARD-AGENT-PID "

/**
 * The agent's temporary folder (multiprocessing's forkserver socket, blobs), removed with its work
 * folder even when the agent was killed: beside the work folder (`<workDir>.tmp`; inside, tasks
 * listing their current directory, a copy of the user's project, would see it), or, when that would
 * push the forkserver's socket path (+ ~32 bytes) past the 107 bytes a Unix socket allows, a short
 * one in /tmp.
 */
export const agentTmpDir = (workDir: string): string => {
  const beside = `${workDir.replace(/\/+$/, "")}.tmp`
  return beside.length + 32 < 104 ? beside : `/tmp/skyward-agent-${path.posix.basename(workDir)}`
}

/**
 * The command that starts the agent: prints its pid (its process group), then becomes it. The
 * launch's own variables (the user's, secrets among them) are not in it: every user of the host can
 * read a command line, so they follow on the agent's input ({@link ENV_ON_INPUT_FLAG}).
 */
export const agentCommand = (launch: AgentLaunch): string => {
  const tmp = agentTmpDir(launch.workDir)
  const env = Object.entries({ TMPDIR: tmp, SKYWARD_OWN_TMPDIR: tmp, PYTHONPATH: launch.pythonPath.join(":"), PYTHONUNBUFFERED: "1" })
    .map(([k, v]) => shellQuote(`${k}=${v}`))
    .join(" ")
  const argv = [launch.python, "-m", "skyward_worker", ...launch.args, ENV_ON_INPUT_FLAG].map(shellQuote).join(" ")
  return `echo "${PID_PREFIX}$$" >&2; cd ${shellQuote(launch.workDir)} && mkdir -p -m 700 ${shellQuote(tmp)} && exec env ${env} ${argv}`
}

interface Running {
  readonly channel: ClientChannel
  readonly agent: AgentChannel
  readonly pid: () => number | undefined
  readonly closed: () => boolean
  readonly whenClosed: Promise<void>
}

const wrap = (connection: SshConnection, channel: ClientChannel): Running => {
  const closeListeners: Array<(reason: string) => void> = []
  const diagnostics: Array<(line: string) => void> = []
  const early: string[] = []
  let reason: string | undefined
  let pid: number | undefined
  let exit: string | undefined
  let markClosed: () => void = () => undefined
  const whenClosed = new Promise<void>((resolve) => (markClosed = resolve))
  const close = (why: string) => {
    if (reason !== undefined) return
    reason = why
    markClosed()
    for (const listener of closeListeners.splice(0)) listener(why)
  }
  channel.on("exit", (code: number | null, signal?: string) => {
    exit = signal ? `the agent on ${connection.label} was killed by ${signal}` : `the agent on ${connection.label} exited with code ${code}`
    const why = exit
    setTimeout(() => {
      if (reason !== undefined) return
      close(why)
      channel.close()
    }, OUTPUT_GRACE_MS).unref()
  })
  channel.on("close", () => close(connection.closedReason() ?? exit ?? `the agent's channel to ${connection.label} closed`))
  channel.on("error", () => undefined) // reported through "close"
  connection.onClose((why) => close(why))
  createInterface({ input: channel.stderr }).on("line", (line) => {
    if (pid === undefined && line.startsWith(PID_PREFIX)) {
      pid = Number(line.slice(PID_PREFIX.length))
      return
    }
    if (diagnostics.length === 0) early.push(line)
    else for (const listener of diagnostics) listener(line)
  })
  const agent: AgentChannel = {
    write: (bytes) => {
      if (reason !== undefined) return false
      channel.write(bytes)
      return true
    },
    onData: (listener) => channel.on("data", (chunk: Buffer) => listener(chunk)),
    onDiagnostic: (listener) => {
      diagnostics.push(listener)
      for (const line of early.splice(0)) listener(line)
    },
    onClose: (listener) => (reason === undefined ? closeListeners.push(listener) : listener(reason))
  }
  return { channel, agent, pid: () => pid, closed: () => reason !== undefined, whenClosed }
}

/**
 * Closes the agent's input and waits for its channel to close (at most {@link EXIT_GRACE_MS}, then
 * {@link OUTPUT_GRACE_MS} after the agent exited); then ends its process group on the host, agent
 * included if it lingers: whatever its tasks left running ends with the pool at the latest.
 */
const stop = (connection: SshConnection, running: Running) =>
  Effect.gen(function* () {
    if (!running.closed()) {
      running.channel.end()
      yield* Effect.promise(() => running.whenClosed).pipe(Effect.timeout(EXIT_GRACE_MS), Effect.option)
    }
    const pid = running.pid()
    if (pid !== undefined && connection.closedReason() === undefined)
      yield* exec(connection, `kill -KILL -- -${pid} 2>/dev/null || kill -KILL ${pid} 2>/dev/null; true`).pipe(Effect.ignore, Effect.timeout(5_000), Effect.ignore)
    running.channel.close()
  })

/**
 * Starts `python -m skyward_worker` on an exec channel: its stdin/stdout carry frames, its stderr
 * the diagnostics. The channel closes when the agent exits (however long something it left holds
 * its output) or the connection drops (keepalive). Closing the scope closes the agent's input, then
 * kills what is left of its process group.
 */
export const startRemoteAgent = (
  connection: SshConnection,
  node: number,
  launch: AgentLaunch
): Effect.Effect<AgentChannel, TransportError, Scope.Scope> =>
  Effect.acquireRelease(
    openExec(connection, agentCommand(launch), (channel) => {
      // ahead of any frame: the agent reads this line first
      channel.write(envInputLine(launch.env))
      return wrap(connection, channel)
    }).pipe(
      Effect.mapError((e) => new TransportError({ node, message: `cannot start the agent on ${connection.label}: ${e.message}`, cause: e }))
    ),
    (running) => stop(connection, running)
  ).pipe(Effect.map((running) => running.agent))
