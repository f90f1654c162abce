import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"

const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/index.js")
const folders: string[] = []
afterEach(() => folders.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

/** A fresh Node process asks for Python 3.11 once (each process probes at most once itself). */
const findIn = (env: NodeJS.ProcessEnv): string =>
  execFileSync(
    process.execPath,
    ["--input-type=module", "-e", `const m = await import(${JSON.stringify(dist)}); const { Effect } = await import("effect"); console.log((await Effect.runPromise(m.findLocalPython("3.11"))).version)`],
    { env, encoding: "utf8", cwd: path.dirname(dist) }
  ).trim()

describe("findLocalPython", () => {
  it("remembers an interpreter's version across processes until the interpreter changes", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-probe-"))
    folders.push(dir)
    const calls = path.join(dir, "calls")
    const python = path.join(dir, "python")
    const write = (version: string) =>
      fs.writeFileSync(python, `#!/bin/sh\necho run >> ${calls}\necho ${version}\n`, { mode: 0o755 })
    write("3.11.7")
    const env = { ...process.env, SKYWARD_PYTHON: python, SKYWARD_CACHE_DIR: path.join(dir, "cache") }
    expect(findIn(env)).toBe("3.11.7")
    expect(findIn(env)).toBe("3.11.7")
    expect(fs.readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(1) // the second process did not start Python
    write("3.11.10") // a new interpreter in the same place: probed again
    expect(findIn(env)).toBe("3.11.10")
    expect(fs.readFileSync(calls, "utf8").trim().split("\n")).toHaveLength(2)
  })
})

describe("cacheRoot", () => {
  it("is absolute even when SKYWARD_CACHE_DIR is relative (agents start in their own work folders)", () => {
    const root = execFileSync(
      process.execPath,
      ["--input-type=module", "-e", `const m = await import(${JSON.stringify(dist)}); console.log(m.cacheRoot())`],
      { env: { ...process.env, SKYWARD_CACHE_DIR: "some/cache" }, encoding: "utf8", cwd: os.tmpdir() }
    ).trim()
    expect(root).toBe(path.join(fs.realpathSync(os.tmpdir()), "some/cache"))
  })
})
