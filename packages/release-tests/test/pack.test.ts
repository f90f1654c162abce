import { execFile } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"

const run = promisify(execFile)
const require = createRequire(import.meta.url)
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")

interface Manifest {
  name: string
  version: string
  private?: boolean
  files?: string[]
  dependencies?: Record<string, string>
  peerDependencies?: Record<string, string>
  optionalDependencies?: Record<string, string>
}

/** Every publishable package of the workspace (not private), with its folder. */
const publishable = ["packages", "apps"]
  .flatMap((group) => fs.readdirSync(path.join(repo, group)).map((name) => path.join(repo, group, name)))
  .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
  .map((dir) => ({ dir, manifest: JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest }))
  .filter(({ manifest }) => !manifest.private)
const versions = new Map(publishable.map(({ manifest }) => [manifest.name, manifest.version]))

/** The Python packages a workspace package ships: folders with an `__init__.py` under python/ (tests and benchmarks excluded). */
const pythonFiles = (dir: string): string[] => {
  const root = path.join(dir, "python")
  if (!fs.existsSync(root)) return []
  const shipped = fs
    .readdirSync(root)
    .filter((name) => !["tests", "benchmarks"].includes(name) && fs.existsSync(path.join(root, name, "__init__.py")))
  const walk = (folder: string): string[] =>
    fs.readdirSync(folder, { withFileTypes: true }).flatMap((entry) => {
      const full = path.join(folder, entry.name)
      if (entry.isDirectory()) return entry.name === "__pycache__" ? [] : walk(full)
      return entry.name.endsWith(".py") ? [path.relative(dir, full)] : []
    })
  return shipped.flatMap((name) => walk(path.join(root, name)))
}

/** pnpm, as the test command runs it (its own executable) or through npx. */
const pnpm = (args: string[], cwd: string) => {
  const execpath = process.env.npm_execpath
  return execpath && /pnpm/.test(path.basename(execpath)) && fs.existsSync(execpath)
    ? run(process.execPath, [execpath, ...args], { cwd })
    : run("npx", ["-y", "pnpm@10", ...args], { cwd })
}

// The user's side: a project that knows nothing of this workspace.
const USER_SCRIPT = `import { ComputePool } from "@skyward/core"
import { sklearn } from "@skyward/plugin-sklearn"

// 2 local nodes x 1 slot with scikit-learn on them; job.py travels with the Image
const results = await ComputePool.use(
  { nodes: 2, worker: { concurrency: 1 }, plugins: [sklearn()], image: { files: { "job.py": "./job.py" } } },
  (pool) => pool.map("job:fit", [0, 1, 2, 3])
)
console.log(JSON.stringify(results))
`
const USER_JOB = `import os
import skyward_joblib, skyward_wire, skyward_worker
from sklearn.datasets import load_iris
from sklearn.tree import DecisionTreeClassifier

def fit(seed):
    X, y = load_iris(return_X_y=True)
    score = DecisionTreeClassifier(random_state=seed, max_depth=2).fit(X, y).score(X, y)
    modules = [m.__file__ for m in (skyward_joblib, skyward_wire, skyward_worker)]
    return {"node": int(os.environ["SKYWARD_NODE_INDEX"]), "score": round(score, 4), "modules": modules}
`

/** All package names installed anywhere in a node_modules tree (nested ones included). */
const installedNames = (nodeModules: string): Set<string> => {
  const names = new Set<string>()
  const visit = (dir: string) => {
    if (!fs.existsSync(dir)) return
    for (const entry of fs.readdirSync(dir)) {
      if (entry.startsWith(".")) continue
      const scoped = entry.startsWith("@")
      for (const name of scoped ? fs.readdirSync(path.join(dir, entry)).map((n) => `${entry}/${n}`) : [entry]) {
        names.add(name)
        visit(path.join(dir, name, "node_modules"))
      }
    }
  }
  visit(nodeModules)
  return names
}

/** The folder tsx keeps in TMPDIR: `tsx-<uid>`. */
const tsxFolder = `tsx-${process.geteuid?.() ?? os.userInfo().username}`

describe("every publishable package", () => {
  it.each(publishable.map(({ manifest, dir }) => [manifest.name, dir] as const))("%s declares dist and its Python in files", (_name, dir) => {
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8")) as Manifest
    expect(manifest.files).toContain("dist")
    if (pythonFiles(dir).length > 0) expect(manifest.files!.some((f) => f.startsWith("python"))).toBe(true)
  })
})

describe("packed and installed outside the workspace", () => {
  let work = ""
  const tarballs = new Map<string, string>()

  beforeAll(async () => {
    work = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-pack-"))
    fs.mkdirSync(path.join(work, "tarballs"))
    // one recursive pack of exactly the publishable packages (pnpm rewrites workspace: ranges as it packs)
    const destination = path.join(work, "tarballs")
    await pnpm(["-r", ...publishable.flatMap(({ manifest }) => ["--filter", manifest.name]), "pack", "--pack-destination", destination], repo)
    for (const { manifest } of publishable) {
      const tarball = path.join(destination, `${manifest.name.replace(/^@/, "").replace("/", "-")}-${manifest.version}.tgz`)
      expect(fs.existsSync(tarball), `pnpm pack of ${manifest.name}`).toBe(true)
      tarballs.set(manifest.name, tarball)
    }
  })

  afterAll(() => {
    if (work) fs.rmSync(work, { recursive: true, force: true })
    expect(work === "" || !fs.existsSync(work), `${work} is left behind`).toBe(true)
  })

  it("packs dist, the Python modules and real dependency ranges into every tarball", async () => {
    for (const { dir, manifest } of publishable) {
      const tarball = tarballs.get(manifest.name)!
      const { stdout: listing } = await run("tar", ["-tzf", tarball])
      const files = new Set(listing.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")))
      expect(files, manifest.name).toContain("dist/index.js")
      expect(files, manifest.name).toContain("dist/index.d.ts")
      for (const py of pythonFiles(dir)) expect(files, `${manifest.name} ships ${py}`).toContain(py)
      const { stdout: packed } = await run("tar", ["-xzOf", tarball, "package/package.json"])
      expect(packed, manifest.name).not.toContain("workspace:")
      const deps = { ...JSON.parse(packed).dependencies, ...JSON.parse(packed).peerDependencies } as Record<string, string>
      for (const [name, range] of Object.entries(deps))
        if (versions.has(name)) expect(range, `${manifest.name} -> ${name}`).toBe(`^${versions.get(name)}`)
    }
  })

  it("installs only @skyward/core and @skyward/plugin-sklearn, without ssh2 or the AWS SDK, and runs a pool from TypeScript", async () => {
    const project = path.join(work, "project")
    fs.mkdirSync(project)
    const file = (name: string) => `file:${tarballs.get(name)}`
    fs.writeFileSync(
      path.join(project, "package.json"),
      JSON.stringify(
        {
          name: "a-user-project",
          private: true,
          type: "module",
          dependencies: { "@skyward/core": file("@skyward/core"), "@skyward/plugin-sklearn": file("@skyward/plugin-sklearn") },
          // what the registry would serve for the @skyward dependencies of those two
          overrides: Object.fromEntries(
            ["@skyward/codec", "@skyward/contracts", "@skyward/host", "@skyward/plugin-joblib", "@skyward/provider-local", "@skyward/worker"].map((name) => [name, file(name)])
          )
        },
        null,
        2
      )
    )
    let t = Date.now()
    await run("npm", ["install", "--no-audit", "--no-fund", "--prefer-offline", "--loglevel=error"], { cwd: project, timeout: 240_000 })

    console.log(`npm install: ${((Date.now() - t) / 1000).toFixed(1)}s`)
    t = Date.now()
    const names = installedNames(path.join(project, "node_modules"))
    expect([...names].filter((n) => n.startsWith("@skyward/")).sort()).toEqual([
      "@skyward/codec",
      "@skyward/contracts",
      "@skyward/core",
      "@skyward/host",
      "@skyward/plugin-joblib",
      "@skyward/plugin-sklearn",
      "@skyward/provider-local",
      "@skyward/worker"
    ])
    expect(names.has("ssh2")).toBe(false)
    expect([...names].filter((n) => n.startsWith("@aws-sdk/"))).toEqual([])

    fs.writeFileSync(path.join(project, "main.ts"), USER_SCRIPT)
    fs.writeFileSync(path.join(project, "job.py"), USER_JOB)
    expect(USER_SCRIPT.trim().split("\n").length).toBeLessThanOrEqual(15)
    const tsx = require.resolve("tsx/cli")
    // tsx keeps a folder in TMPDIR (tsx-<uid>: its IPC pipe, its cache) that outlives it: it gets a
    // private TMPDIR, removed with the rest of the work folder
    const tmp = path.join(work, "tmp")
    fs.mkdirSync(tmp)
    const { stdout } = await run(process.execPath, [tsx, "main.ts"], { cwd: project, env: { ...process.env, TMPDIR: tmp }, timeout: 240_000 })
    console.log(`tsx main.ts: ${((Date.now() - t) / 1000).toFixed(1)}s`)
    // tsx used it (and so left nothing in the real TMPDIR); the pool left nothing there either
    expect(fs.readdirSync(tmp)).toEqual([tsxFolder])
    const results = JSON.parse(stdout.trim().split("\n").at(-1)!) as Array<{ node: number; score: number; modules: string[] }>
    expect(results).toHaveLength(4)
    expect(new Set(results.map((r) => r.node))).toEqual(new Set([0, 1]))
    expect(results.every((r) => r.score > 0.9)).toBe(true)
    const realProject = fs.realpathSync(project)
    for (const modules of results.map((r) => r.modules)) {
      expect(modules[0]).toBe(path.join(realProject, "node_modules/@skyward/plugin-joblib/python/skyward_joblib/__init__.py"))
      expect(modules[1]).toBe(path.join(realProject, "node_modules/@skyward/codec/python/skyward_wire/__init__.py"))
      expect(modules[2]).toBe(path.join(realProject, "node_modules/@skyward/worker/python/skyward_worker/__init__.py"))
    }
  })
})
