import { createInterface } from "node:readline"
import { Effect } from "effect"
import type { ClientChannel } from "ssh2"
import type { SshConnection } from "./connect.js"
import { SshChannelError } from "./errors.js"

/** How a remote command ended. */
export interface ExecResult {
  readonly code: number | null
  readonly signal: string | undefined
  readonly stdout: string
  readonly stderr: string
  /** The last lines of stdout and stderr together, for error messages. */
  readonly tail: string
}

/** Quotes a string for a POSIX shell. */
export const shellQuote = (value: string): string => (/^[A-Za-z0-9_\-+=/.,:@%]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`)

/**
 * Opens an exec channel (no pty) and hands it to `setup` synchronously, in ssh2's callback, so
 * that no event (an early exit status) is missed before listeners are attached.
 */
export const openExec = <T>(connection: SshConnection, command: string, setup: (channel: ClientChannel) => T) =>
  Effect.async<T, SshChannelError>((resume) => {
    const failure = (error: unknown) =>
      new SshChannelError({ host: connection.host, message: `cannot run a command on ${connection.label}: ${(error as Error).message}`, cause: error })
    if (connection.closedReason() !== undefined)
      return resume(Effect.fail(new SshChannelError({ host: connection.host, message: connection.closedReason()! })))
    try {
      connection.client.exec(command, (error, channel) => {
        if (error) return resume(Effect.fail(failure(error)))
        resume(Effect.succeed(setup(channel)))
      })
    } catch (error) {
      resume(Effect.fail(failure(error)))
    }
  })

/**
 * Runs `command` on the host (through the login shell) and waits for it to end. `onLine` sees every
 * line of its output as it comes; `stdin`, when given, is written and closed. Interruption closes
 * the channel. Fails only when the channel cannot be opened; the caller judges the exit code.
 */
export const exec = (
  connection: SshConnection,
  command: string,
  options: { readonly onLine?: (line: string) => void; readonly stdin?: string | Uint8Array } = {}
): Effect.Effect<ExecResult, SshChannelError> =>
  Effect.flatMap(
    openExec(connection, command, (channel) => {
      const out: string[] = []
      const err: string[] = []
      const tail: string[] = []
      let pending = 3
      let exit: { code: number | null; signal: string | undefined } | undefined
      let done: (result: ExecResult) => void = () => undefined
      const result = new Promise<ExecResult>((resolve) => (done = resolve))
      const line = (sink: string[]) => (text: string) => {
        sink.push(text)
        tail.push(text)
        if (tail.length > 60) tail.shift()
        options.onLine?.(text)
      }
      const finish = () => {
        if (--pending > 0) return
        done({ ...(exit ?? { code: null, signal: connection.closedReason() ?? "the channel closed without an exit status" }), stdout: out.join("\n"), stderr: err.join("\n"), tail: tail.join("\n") })
      }
      createInterface({ input: channel }).on("line", line(out)).on("close", finish)
      createInterface({ input: channel.stderr }).on("line", line(err)).on("close", finish)
      channel.on("exit", (code: number | null, signal?: string) => {
        exit = { code: typeof code === "number" ? code : null, signal: signal ?? undefined }
      })
      channel.on("close", finish)
      if (options.stdin !== undefined) channel.end(options.stdin)
      else channel.end()
      return { channel, result }
    }),
    ({ channel, result }) => Effect.promise(() => result).pipe(Effect.onInterrupt(() => Effect.sync(() => channel.close())))
  )

/** Runs `command` and fails unless it exits 0; gives its stdout. */
export const execChecked = (connection: SshConnection, command: string, what: string) =>
  Effect.flatMap(exec(connection, command), (result) =>
    result.code === 0
      ? Effect.succeed(result.stdout)
      : Effect.fail(
          new SshChannelError({
            host: connection.host,
            message: `${what} failed on ${connection.label} (exit ${result.code ?? result.signal}): ${result.tail.trim().split("\n").slice(-5).join("\n")}`
          })
        )
  )
