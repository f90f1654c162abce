import type { SshConnection } from "./connect.js"
import { exec } from "./exec.js"

/** The interpreters tried on a host for `image.python`, in order. */
export const pythonCandidates = (wanted: string): string[] => (wanted === "3" ? ["python3"] : [`python${wanted}`, "python3"])

/**
 * `script` preceded by `name = <value>`: the value travels inside the program, on stdin, never on a
 * command line (which every user of the host can read, and whose length is limited). Base64 keeps
 * any text intact.
 */
const withValue = (name: string, value: unknown, script: string): string =>
  `import base64, json\n${name} = json.loads(base64.b64decode("${Buffer.from(JSON.stringify(value), "utf8").toString("base64")}").decode("utf-8"))\n${script}`

/**
 * Runs a Python program on the host's python3 (or `python3.X`), fed on stdin with `spec` inside it
 * as `SPEC` (index URLs with credentials may be among it). Prints `SKYWARD-NO-PYTHON` on stderr when
 * there is none.
 */
export const runRemotePython = (connection: SshConnection, wanted: string, script: string, spec: unknown, onLine?: (line: string) => void) => {
  const command =
    `for p in ${pythonCandidates(wanted).join(" ")}; do if command -v "$p" >/dev/null 2>&1; then exec "$p" -; fi; done; ` +
    `echo "SKYWARD-NO-PYTHON" >&2; exit 127`
  return exec(connection, command, { stdin: withValue("SPEC", spec, script), ...(onLine ? { onLine } : {}) })
}

/** `script` with `DATA` set to `data` (a manifest of thousands of files, say), as {@link runRemotePython} sets `SPEC`. */
export const withData = (script: string, data: unknown): string => withValue("DATA", data, script)
