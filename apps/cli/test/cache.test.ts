import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { skyward } from "./cli.js"

// a cache of this file's own (the environment it builds and removes is no one else's), and a
// folder to run from; --no-workdir and no active venv: the workers' environment is the Image's
const cache = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-cache-"))
const folder = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-cache-run-"))
afterAll(() => {
  fs.rmSync(cache, { recursive: true, force: true })
  fs.rmSync(folder, { recursive: true, force: true })
})
const { VIRTUAL_ENV: _venv, ...outside } = process.env
const env = { ...outside, SKYWARD_CACHE_DIR: cache }
const run = (args: ReadonlyArray<string>) => skyward(args, { cwd: folder, env })
const listed = async () => {
  const result = await run(["cache", "ls", "--json"])
  expect(result.code, result.stderr).toBe(0)
  return result.stdout.trim().split("\n").filter(Boolean).map((line) => JSON.parse(line) as { name: string; ownBytes: number; lastUsed: string; pip: string[]; ready: boolean })
}

describe("skyward cache", () => {
  it("lists the environment a run made (its packages, size, last use), keeps it while recent, prunes it with --all", async () => {
    fs.writeFileSync(path.join(folder, "ok.py"), "print('ran')\n")
    const started = Date.now()
    const made = await run(["run", "--quiet", "--no-workdir", "--nodes", "1", "--pip", "six==1.16.0", "ok.py"])
    expect(made.code, made.stderr).toBe(0)

    const [env, ...others] = await listed()
    expect(others).toEqual([])
    expect(env!.pip).toEqual(["six==1.16.0", "joblib", "cloudpickle"]) // the joblib plugin's too
    expect(env!.ready).toBe(true)
    expect(env!.ownBytes).toBeGreaterThan(1_000_000)
    expect(Date.parse(env!.lastUsed)).toBeGreaterThanOrEqual(started - 1_000)
    const table = await run(["cache"])
    // minutes since the run: 0, or 1 on a loaded machine
    expect(table.stdout).toMatch(new RegExp(`^${env!.name}\\s+\\d+(\\.\\d)? MiB\\s+0 B\\s+[01]m ago\\s+3\\.\\d+\\.\\d+\\s+six==1\\.16\\.0 joblib cloudpickle$`, "m"))

    const kept = await run(["cache", "prune", "--older-than", "1h"])
    expect(kept.stdout.trim()).toBe("0 environments removed, about 0 B freed")
    expect((await listed()).map((e) => e.name)).toEqual([env!.name])

    const pruned = await run(["cache", "prune", "--all"])
    expect(pruned.stdout).toMatch(new RegExp(`^removed ${env!.name} \\(\\d+(\\.\\d)? MiB, last used [01]m ago\\)$`, "m"))
    expect(await listed()).toEqual([])
    expect(fs.readdirSync(path.join(cache, "envs"))).toEqual([])
  }, 240_000)

  it("refuses a malformed age, and --all with --older-than, with one line and exit 2", async () => {
    const bad = await run(["cache", "prune", "--older-than", "soon"])
    expect([bad.code, bad.stderr.trim()]).toEqual([2, 'skyward: --older-than "soon": expected an age such as 30d, 12h or 90m'])
    const both = await run(["cache", "prune", "--all", "--older-than", "1d"])
    expect([both.code, both.stderr.trim()]).toEqual([2, "skyward: --all and --older-than: choose one"])
  })
})
