import { spawn } from "node:child_process"
import { Effect } from "effect"

/** How the user's script is started. */
export interface ClientLaunch {
  readonly python: string
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly pythonPath: ReadonlyArray<string>
  /** Modules imported before the script (plugins use this to activate their backend). */
  readonly imports: ReadonlyArray<string>
}

/** Seconds the script gets to stop after SIGINT before it is killed. */
const STOP_GRACE_MS = 5_000

// Imports the plugins' activation modules, then runs the script as __main__ with its own argv and sys.path[0].
const LAUNCHER = [
  "import importlib, os, runpy, sys",
  "for _m in filter(None, os.environ.pop('SKYWARD_CLIENT_IMPORTS', '').split(',')): importlib.import_module(_m)",
  "sys.argv = sys.argv[1:]",
  "sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))",
  "runpy.run_path(sys.argv[0], run_name='__main__')"
].join("\n")

/**
 * Runs the user's script in the pool's client Python and gives back its exit code. Interruption
 * (Ctrl-C) sends SIGINT to the script, then SIGKILL after a grace period.
 */
export const runClientScript = (launch: ClientLaunch): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    const pythonPath = [...launch.pythonPath, process.env.PYTHONPATH].filter(Boolean).join(":")
    const child = spawn(launch.python, ["-c", LAUNCHER, launch.script, ...launch.args], {
      stdio: "inherit",
      env: { ...process.env, ...launch.env, PYTHONPATH: pythonPath, SKYWARD_CLIENT_IMPORTS: launch.imports.join(",") }
    })
    child.on("error", () => resume(Effect.succeed(127)))
    child.on("exit", (code, signal) => resume(Effect.succeed(code ?? (signal === "SIGINT" ? 130 : 128 + 9))))
    return Effect.async<void>((stopped) => {
      if (child.exitCode !== null || child.signalCode !== null) return stopped(Effect.void)
      const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS)
      child.once("exit", () => {
        clearTimeout(timer)
        stopped(Effect.void)
      })
      child.kill("SIGINT")
    })
  })
