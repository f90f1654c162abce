// schema/messages.json is the one source of the wire's vocabulary: the checked-in tables of both
// languages must be what the generator makes of it, and both languages must word errors alike.
import { execFile } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { describe, expect, it } from "vitest"
import { errorExcTypes, errorTexts } from "../src/index.js"

const run = promisify(execFile)
const codec = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const venvPython = path.resolve(codec, "../../.venv/bin/python")

/** Timeouts as users write them: whole, halves, thirds, milliseconds, hours. */
const SECONDS = [2, 0.5, 1.25, 0.1, 0.001, 0.0001, 3600, 1 / 3, 12.000001, 86400.5]

/** The same texts, worded by skyward_wire (Python). */
const pythonTexts = async (): Promise<unknown> => {
  const script = `
import json, sys
import skyward_wire as w
seconds = json.loads(sys.argv[1])
print(json.dumps({
    "timeout": [w.timeout_text(s) for s in seconds],
    "cancelled": w.cancelled_text("by the caller"),
    "lost": w.lost_text("node 1 was lost: killed", 3),
    "blob": w.blob_text("the pool", "ab, cd"),
    "excTypes": {"timeout": w.TIMEOUT_EXC_TYPE, "cancelled": w.CANCELLED_EXC_TYPE, "lost": w.LOST_EXC_TYPE,
                 "protocol": w.PROTOCOL_EXC_TYPE, "blob": w.BLOB_EXC_TYPE},
}))
`
  const { stdout } = await run(venvPython, ["-c", script, JSON.stringify(SECONDS)], {
    env: { ...process.env, PYTHONPATH: path.join(codec, "python") }
  })
  return JSON.parse(stdout)
}

describe("schema/messages.json", () => {
  it("is what the checked-in TypeScript, Python and PROTOCOL.md tables were generated from", async () => {
    const stale = await run(process.execPath, [path.join(codec, "scripts", "gen-messages.mjs"), "--check"]).then(
      () => "",
      (error: { stderr?: string }) => error.stderr ?? String(error)
    )
    // the script's message names the stale files and says: run pnpm --filter @skyward/codec gen:messages
    expect(stale, stale).toBe("")
  })

  it("words every error the same in TypeScript and Python", async () => {
    expect(await pythonTexts()).toEqual({
      timeout: SECONDS.map((s) => errorTexts.timeout(s)),
      cancelled: errorTexts.cancelled("by the caller"),
      lost: errorTexts.lost("node 1 was lost: killed", 3),
      blob: errorTexts.blob("the pool", "ab, cd"),
      excTypes: errorExcTypes
    })
    expect(errorTexts.timeout(2)).toBe("the task ran longer than its timeout of 2s")
    expect(errorTexts.timeout(0.5)).toBe("the task ran longer than its timeout of 0.5s")
  })
})
