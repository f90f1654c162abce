import { execFile } from "node:child_process"
import { Effect } from "effect"
import { UsageError } from "./errors.js"

/** The exit code of CHECK when the script does not compile (anything else: no verdict). */
const DOES_NOT_COMPILE = 3

/** Seconds the check may take before it is given up (the real run then reports what it finds). */
const CHECK_TIMEOUT_MS = 20_000

// Compiles the script (never runs it) as runpy.run_path would, and says why it does not compile
// as one JSON line. A zip application (runpy runs its __main__.py) is not checked.
const CHECK = [
  "import json, sys",
  "path = sys.argv[1]",
  "try:",
  "    with open(path, 'rb') as f:",
  "        source = f.read()",
  "    if not source.startswith(b'PK\\x03\\x04'):",
  "        compile(source, path, 'exec', dont_inherit=True)",
  "except (SyntaxError, ValueError) as e:",
  "    sys.stdout.write(json.dumps({'type': type(e).__name__, 'line': getattr(e, 'lineno', None), 'message': getattr(e, 'msg', None) or str(e)}))",
  `    sys.exit(${DOES_NOT_COMPILE})`
].join("\n")

interface Verdict {
  readonly type: string
  readonly line: number | null
  readonly message: string
}

/** Runs CHECK; the verdict when the script does not compile, undefined when it does (or when the check could not tell). */
const compileWith = (python: string, script: string, signal: AbortSignal): Promise<Verdict | undefined> =>
  new Promise((resolve) => {
    // -I: no PYTHON* variables, no user site; -S: no site import (a faster start, compile() needs nothing);
    // the signal kills it when the run is interrupted (Ctrl-C) meanwhile
    execFile(python, ["-I", "-S", "-c", CHECK, script], { timeout: CHECK_TIMEOUT_MS, signal }, (error, stdout) => {
      if (error === null || error.code !== DOES_NOT_COMPILE) return resolve(undefined)
      try {
        resolve(JSON.parse(stdout) as Verdict)
      } catch {
        resolve(undefined)
      }
    })
  })

/**
 * Checks that `script` compiles before any node is provisioned, so a syntax error costs a
 * fraction of a second and one line (`skyward: x.py line 3: SyntaxError: invalid syntax`, exit
 * code 2) instead of a pool brought up and torn down around a traceback. It is compiled by the
 * interpreter `python` that will run it (the client's own, or the one its environment is made from),
 * so by the same Python version. A check that cannot reach a verdict
 * (the interpreter crashed, timed out) lets the run go on and report whatever it finds.
 */
export const checkScriptCompiles = (script: string, python: string): Effect.Effect<void, UsageError> =>
  Effect.promise((signal) => compileWith(python, script, signal)).pipe(
    Effect.flatMap((verdict) =>
      verdict === undefined
        ? Effect.void
        : Effect.fail(
            new UsageError({
              message: `${script}${verdict.line ? ` line ${verdict.line}` : ""}: ${verdict.type}: ${verdict.message}`
            })
          )
    )
  )
