import { randomUUID } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { type CliResult, repo, skyward } from "./cli.js"
import { processesMarked, processesShowing } from "./processes.js"

const fixture = path.join(repo, "apps/cli/test/fixtures/env_values.py")
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-env-"))
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

// one local node running two tasks at once, nothing else sent: the fixture is all there is
const pool = ["run", "--quiet", "--nodes", "1", "--concurrency", "2", "--plugin", "joblib", "--no-workdir"]

interface Seen {
  readonly script: Record<string, string | null>
  readonly worker: Record<string, string | null>
  readonly node: string | null
  readonly same_process: boolean
  readonly files: ReadonlyArray<string>
}

/** What the fixture printed: the variables as the script and a task on a worker saw them. */
const seenBy = (result: CliResult): Seen => {
  const line = result.stdout.split("\n").find((l) => l.startsWith("env:"))
  expect(line, result.stderr).toBeDefined()
  return JSON.parse(line!.slice("env:".length)) as Seen
}

/**
 * Runs `skyward` while looking through every process on the machine every 50 ms: which ones showed
 * each of `markers` on their command line (what `ps` shows every user), which ones held it in their environment.
 */
const watching = async <K extends string>(markers: Record<K, string>, run: () => Promise<CliResult>) => {
  const shownBy = Object.fromEntries(Object.keys(markers).map((k) => [k, new Set<number>()])) as Record<K, Set<number>>
  const heldBy = Object.fromEntries(Object.keys(markers).map((k) => [k, new Set<number>()])) as Record<K, Set<number>>
  let running = true
  const look = async () => {
    while (running) {
      for (const [key, marker] of Object.entries(markers) as Array<[K, string]>) {
        for (const pid of processesShowing(marker)) shownBy[key].add(pid)
        for (const pid of processesMarked(marker)) heldBy[key].add(pid)
      }
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const looking = look()
  const result = await run().finally(() => (running = false))
  await looking
  return { result, shownBy, heldBy }
}

describe("skyward run --env-file and --env KEY: values on no command line", () => {
  it("the script and the workers see them; no process shows them on its command line, as one does a --env KEY=VALUE", async () => {
    const fromFile = `file secret ${randomUUID()} with spaces`
    const fromEnvironment = randomUUID()
    const onCommandLine = randomUUID()
    const first = path.join(dir, "first.env")
    fs.writeFileSync(first, ["# IGNORED=yes: a comment", `FILE_SECRET="${fromFile}"`, "ORDER=first", "OVERRIDDEN=file", ""].join("\n"))
    const second = path.join(dir, "second.env")
    fs.writeFileSync(second, "ORDER=second\n")
    fs.writeFileSync(path.join(dir, "data.txt"), "travels\n")
    const names = ["FILE_SECRET", "ENV_SECRET", "ORDER", "OVERRIDDEN", "VISIBLE", "IGNORED"]
    const { result, shownBy, heldBy } = await watching({ fromFile, fromEnvironment, onCommandLine }, () =>
      skyward(
        [
          // the working directory (this folder, env files and all) travels
          ...pool.filter((arg) => arg !== "--no-workdir"),
          ...["--env-file", first, "--env-file", second, "--env", "ENV_SECRET", "--env", `VISIBLE=${onCommandLine}`, "--env", "OVERRIDDEN=flag"],
          fixture,
          ...names
        ],
        { cwd: dir, env: { ...process.env, ENV_SECRET: fromEnvironment } }
      )
    )
    expect(result.code, result.stderr).toBe(0)
    const seen = seenBy(result)
    const expected = { FILE_SECRET: fromFile, ENV_SECRET: fromEnvironment, ORDER: "second", OVERRIDDEN: "flag", VISIBLE: onCommandLine, IGNORED: null }
    expect(seen.script).toEqual(expected)
    expect(seen.worker).toEqual(expected)
    expect(seen.node).toBe("0") // the task ran on the worker of node 0, not in the script
    expect(seen.same_process).toBe(false)
    // the working directory travels, its env files stay behind
    expect(seen.files).toContain("data.txt")
    expect(seen.files.filter((f) => f.endsWith(".env"))).toEqual([])
    // the script, the worker agent and its slots held the file's value while the look went on ...
    expect(heldBy.fromFile.size).toBeGreaterThanOrEqual(2)
    // ... and no process showed it, nor the one from the environment, on its command line
    expect([...shownBy.fromFile]).toEqual([])
    expect([...shownBy.fromEnvironment]).toEqual([])
    // where --env KEY=VALUE's is plain to see (skyward's own command line)
    expect(shownBy.onCommandLine.size).toBeGreaterThan(0)
  })

  it("a config file's envFile, relative to the config file: over its image.env, under --env-file", async () => {
    const project = fs.mkdtempSync(path.join(dir, "project-"))
    const config = path.join(project, "skyward.config.json")
    fs.writeFileSync(config, JSON.stringify({ envFile: "config.env", image: { env: { FROM_IMAGE: "image", A: "image", B: "image" } } }))
    fs.writeFileSync(path.join(project, "config.env"), "A=config-env-file\nB=config-env-file\nFROM_ENV_FILE='from the config'\n")
    const later = path.join(dir, "later.env")
    fs.writeFileSync(later, "B=later\n")
    // run from elsewhere: config.env is found beside the config file, not in the current directory
    const result = await skyward([...pool, "--config", config, "--env-file", later, fixture, "FROM_IMAGE", "A", "B", "FROM_ENV_FILE"], { cwd: dir })
    expect(result.code, result.stderr).toBe(0)
    const expected = { FROM_IMAGE: "image", A: "config-env-file", B: "later", FROM_ENV_FILE: "from the config" }
    expect(seenBy(result).worker).toEqual(expected)
    expect(seenBy(result).script).toEqual(expected)
  })
})
