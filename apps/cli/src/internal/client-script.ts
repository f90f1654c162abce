import { spawn } from "node:child_process"
import { Effect } from "effect"
import { signalExitCode } from "./signals.js"

/** How the user's script is started. */
export interface ClientLaunch {
  readonly python: string
  readonly script: string
  readonly args: ReadonlyArray<string>
  readonly env: Readonly<Record<string, string>>
  readonly pythonPath: ReadonlyArray<string>
  /** Folders after the user's own PYTHONPATH: what the bridge needs and a mirrored environment lacks. */
  readonly pythonPathLast: ReadonlyArray<string>
  /** Modules imported before the script (plugins use this to activate their backend). */
  readonly imports: ReadonlyArray<string>
  /** True when the script runs in the user's own Python (the workers mirror it), false in the pool's Image environment. */
  readonly mirrored: boolean
}

/**
 * The script's own exit code once it has ended (undefined while it runs), for `main`: a signal that
 * comes after the script ended (while the pool closes) does not change the run's exit code.
 */
export const scriptEnded = { code: undefined as number | undefined }

/** Milliseconds the script gets to stop after SIGINT before it is killed. */
const STOP_GRACE_MS = 5_000

/** What the script is told when a module is missing from the pool's Image environment it runs in. */
const IMAGE_HINT =
  "skyward: the script runs in the pool's environment (its Image: --pip, --plugin), which has no module named {name!r}: " +
  "add its package with --pip (e.g. --pip scikit-learn for sklearn), or run skyward with a virtual environment active that has it: " +
  "the workers then mirror that environment and the script runs in it"

// Imports the plugins' activation modules, then runs the script as __main__ with its own argv and
// sys.path[0]; in the pool's Image environment, a module missing here (not a task's, raised again
// here by joblib) says how to add it.
// Ctrl-C: a terminal sends SIGINT to the script and to skyward, which sends it another while it
// stops the pool. The first raises KeyboardInterrupt as usual (the script's own handlers and
// finally blocks run); later ones are ignored, so that they do not break into that clean-up or
// into Python printing it. The KeyboardInterrupt of that SIGINT, when it reaches the top, ends the
// script with 130 and no traceback: skyward says in one line that the run was interrupted (see the
// README). One the script raises itself, or under its own SIGINT handler, prints as usual.
const LAUNCHER = [
  "import importlib, importlib.util, os, runpy, signal, sys",
  "_sigint = []",
  "def _interrupted(_signum, _frame):",
  "    _sigint.append(_signum)",
  "    signal.signal(signal.SIGINT, signal.SIG_IGN)",
  "    raise KeyboardInterrupt",
  "if signal.getsignal(signal.SIGINT) is signal.default_int_handler: signal.signal(signal.SIGINT, _interrupted)",
  "for _m in filter(None, os.environ.pop('SKYWARD_CLIENT_IMPORTS', '').split(',')): importlib.import_module(_m)",
  "_hint = os.environ.pop('SKYWARD_CLIENT_HINT', '')",
  "sys.argv = sys.argv[1:]",
  "sys.path[0] = os.path.dirname(os.path.abspath(sys.argv[0]))",
  "try:",
  "    runpy.run_path(sys.argv[0], run_name='__main__')",
  "except KeyboardInterrupt:",
  "    if not _sigint: raise",
  "    sys.exit(130)",
  "except ModuleNotFoundError as _e:",
  "    if _hint and _e.name and importlib.util.find_spec(_e.name.split('.')[0]) is None:",
  "        _text = _hint.format(name=_e.name.split('.')[0])",
  "        _e.add_note(_text) if hasattr(_e, 'add_note') else sys.stderr.write(_text + '\\n')",
  "    raise"
].join("\n")

/**
 * Runs the user's script in the client's Python (its own, or the pool's Image environment) and gives
 * back its exit code. Interruption (Ctrl-C) sends SIGINT to the script, then SIGKILL after a grace period.
 */
export const runClientScript = (launch: ClientLaunch): Effect.Effect<number> =>
  Effect.async<number>((resume) => {
    scriptEnded.code = undefined
    const pythonPath = [...launch.pythonPath, process.env.PYTHONPATH, ...launch.pythonPathLast].filter(Boolean).join(":")
    const child = spawn(launch.python, ["-c", LAUNCHER, launch.script, ...launch.args], {
      stdio: "inherit",
      env: {
        ...process.env,
        ...launch.env,
        PYTHONPATH: pythonPath,
        SKYWARD_CLIENT_IMPORTS: launch.imports.join(","),
        ...(launch.mirrored ? {} : { SKYWARD_CLIENT_HINT: IMAGE_HINT })
      }
    })
    const ended = (code: number) => {
      scriptEnded.code = code
      resume(Effect.succeed(code))
    }
    child.on("error", () => ended(127))
    child.on("exit", (code, signal) => ended(code ?? signalExitCode(signal!)))
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
