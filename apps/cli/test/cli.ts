import { spawn } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"

/** The repository root and the built CLI. */
export const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
export const bin = path.join(repo, "apps/cli/dist/bin.js")

/** What a finished `skyward` invocation printed and returned. */
export interface CliResult {
  readonly code: number | null
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the built `skyward` command with `args` (stdout and stderr piped, in `cwd`, with `env`, with
 * `nodeArgs` before the CLI's path on Node's command line); kills it after `timeoutMs`.
 */
export const skyward = (
  args: ReadonlyArray<string>,
  options: {
    readonly timeoutMs?: number
    readonly cwd?: string
    readonly env?: NodeJS.ProcessEnv
    readonly nodeArgs?: ReadonlyArray<string>
  } = {}
) =>
  new Promise<CliResult>((resolve) => {
    const child = spawn(process.execPath, [...(options.nodeArgs ?? []), bin, ...args], { cwd: options.cwd ?? repo, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 240_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })
