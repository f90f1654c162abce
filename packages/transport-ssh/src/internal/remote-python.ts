import type { SshConnection } from "./connect.js"
import { exec, shellQuote } from "./exec.js"

/** The interpreters tried on a host for `image.python`, in order. */
export const pythonCandidates = (wanted: string): string[] => (wanted === "3" ? ["python3"] : [`python${wanted}`, "python3"])

/**
 * Runs a Python program on the host's python3 (or `python3.X`): the program on stdin, `spec` (small,
 * never a secret) as its one argument in JSON. Prints `SKYWARD-NO-PYTHON` on stderr when there is none.
 */
export const runRemotePython = (connection: SshConnection, wanted: string, script: string, spec: unknown, onLine?: (line: string) => void) => {
  const command =
    `for p in ${pythonCandidates(wanted).join(" ")}; do if command -v "$p" >/dev/null 2>&1; then exec "$p" - ${shellQuote(JSON.stringify(spec))}; fi; done; ` +
    `echo "SKYWARD-NO-PYTHON" >&2; exit 127`
  return exec(connection, command, { stdin: script, ...(onLine ? { onLine } : {}) })
}

/**
 * `script` preceded by `DATA = <data>`: data too large for a command line (a manifest of thousands
 * of files) travels inside the program, on stdin. Base64 keeps any file name intact.
 */
export const withData = (script: string, data: unknown): string =>
  `import base64, json\nDATA = json.loads(base64.b64decode("${Buffer.from(JSON.stringify(data), "utf8").toString("base64")}").decode("utf-8"))\n${script}`
