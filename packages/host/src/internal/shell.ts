import { spawn } from "node:child_process"
import { createInterface } from "node:readline"
import { Effect } from "effect"

/** How a finished command ended. */
export interface CommandResult {
  readonly code: number | null
  readonly signal: NodeJS.Signals | null
  /** The last lines of stdout and stderr together, for error messages. */
  readonly tail: string
}

/**
 * Runs a command, streaming its output lines to `onLine`; interruption kills it and every process
 * it started (its own process group: pip's build backends, compileall's workers).
 * Never fails: the caller decides what a non-zero exit means.
 */
export const runCommand = (
  command: string,
  args: ReadonlyArray<string>,
  options: { readonly env?: NodeJS.ProcessEnv; readonly cwd?: string; readonly onLine?: (line: string) => void } = {}
): Effect.Effect<CommandResult> =>
  Effect.async<CommandResult>((resume) => {
    const tail: string[] = []
    const child = spawn(command, [...args], { env: options.env ?? process.env, cwd: options.cwd, stdio: ["ignore", "pipe", "pipe"], detached: true })
    const onLine = (line: string) => {
      tail.push(line)
      if (tail.length > 40) tail.shift()
      options.onLine?.(line)
    }
    createInterface({ input: child.stdout }).on("line", onLine)
    createInterface({ input: child.stderr }).on("line", onLine)
    child.on("error", (error) => {
      onLine(`${command}: ${error.message}`)
    })
    child.on("close", (code, signal) => resume(Effect.succeed({ code, signal, tail: tail.join("\n") })))
    return Effect.sync(() => {
      if (!killGroup(child.pid)) child.kill("SIGKILL")
    })
  })

/** SIGKILLs the process group that `pid` leads; false when there is none (it never started, or is gone). */
const killGroup = (pid: number | undefined): boolean => {
  if (pid === undefined) return false
  try {
    process.kill(-pid, "SIGKILL")
    return true
  } catch {
    return false
  }
}
