import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterEach, describe, expect, it } from "vitest"
import { waitForNoAgents } from "./leaks.js"

// each pool in a Node process of its own, as two `skyward run`s would be (the built package, as in python.test.ts)
const dist = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../dist/index.js")

/** Opens a 2-node local pool, maps `math:sqrt`, prints what it saw of the environment as JSON. */
const POOL_SCRIPT = `
const { ComputePool } = await import(${JSON.stringify(dist)})
const created = []
const cached = []
const roots = await ComputePool.use({ nodes: 2, worker: { concurrency: 1 } }, (pool) => pool.map("math:sqrt", [4, 9, 16, 25]), (event) => {
  if (event._tag === "NodeBootstrapping" && event.line.startsWith("creating virtual environment")) created.push(event.line)
  if (event._tag === "NodeBootstrapped") cached.push(event.cached)
})
console.log(JSON.stringify({ roots, created, cached }))
`

interface PoolRun {
  readonly roots: number[]
  readonly created: string[]
  readonly cached: boolean[]
}

const runPool = (cacheDir: string): Promise<PoolRun> =>
  new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ["--input-type=module", "-e", POOL_SCRIPT], {
      env: { ...process.env, SKYWARD_CACHE_DIR: cacheDir },
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()))
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()))
    child.on("error", reject)
    child.on("exit", (code) =>
      code === 0 ? resolve(JSON.parse(stdout.trim().split("\n").at(-1)!) as PoolRun) : reject(new Error(`pool process exited with ${code}: ${stderr}`))
    )
  })

const folders: string[] = []
afterEach(async () => {
  expect(await waitForNoAgents()).toEqual([])
  for (const dir of folders.splice(0)) fs.rmSync(dir, { recursive: true, force: true })
})

describe("the local provider's environment cache", () => {
  it("builds one environment when two pools start together on an empty cache, and both pools run", async () => {
    // a fresh Skyward cache (pip's own cache stays where XDG_CACHE_HOME puts it)
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cache-"))
    folders.push(cacheDir)
    const started = Date.now()
    const runs = await Promise.all([runPool(cacheDir), runPool(cacheDir)])
    const seconds = (Date.now() - started) / 1000
    console.info(`two pools on an empty cache, together: ${seconds.toFixed(1)} s`)

    for (const run of runs) expect(run.roots).toEqual([2, 3, 4, 5])
    // four nodes (2 pools x 2) asked for it; one made it, three found it made
    expect(runs.flatMap((run) => run.created)).toHaveLength(1)
    expect(runs.flatMap((run) => run.cached).sort()).toEqual([false, true, true, true])
    const envs = fs.readdirSync(path.join(cacheDir, "envs"))
    expect(envs).toHaveLength(1) // one environment, and no lock left behind
    expect(runs.flatMap((run) => run.created)[0]).toContain(path.join(cacheDir, "envs", envs[0]!))
    expect(fs.existsSync(path.join(cacheDir, "envs", envs[0]!, ".skyward-ready"))).toBe(true)
  }, 120_000)
})
