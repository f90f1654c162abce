import { execFile } from "node:child_process"
import fs from "node:fs"
import { createRequire } from "node:module"
import os from "node:os"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { promisify } from "node:util"
import http from "node:http"
import type { AddressInfo } from "node:net"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { type Block, codeBlocks } from "./code-blocks.js"

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


describe("pack:all's tarballs", () => {
  type Packed = Map<string, { name: string; version: string; file?: string }>
  interface Lib {
    pointAtSiblings: (manifest: Record<string, unknown>, packed: Packed, workspace: Set<string>) => string[]
    siblingTarballs: (from: string, packages: Array<{ name: string; version: string }>, workspace: Set<string>, out: string) => Array<{ name: string; file: string }>
  }
  const load = async () => (await import(pathToFileURL(path.join(repo, "scripts/lib/tarballs.mjs")).href)) as Lib
  const packed: Packed = new Map([["@skyward/host", { name: "@skyward/host", version: "0.1.0", file: "skyward-host-0.1.0-1a2b3c4d.tgz" }]])
  const workspace = new Set(["@skyward/host", "@skyward/fault-tests"])
  const manifest = (deps: Record<string, string>) => ({ name: "@skyward/x", dependencies: deps })

  it("name a sibling by its tarball, leave the other dependencies, and refuse what would not install, saying what to fix", async () => {
    const { pointAtSiblings } = await load()
    const ok = manifest({ "@skyward/host": "^0.1.0", effect: "^3.19.0" })
    expect(pointAtSiblings(ok, packed, workspace)).toEqual(["@skyward/host"])
    expect(ok.dependencies).toEqual({ "@skyward/host": "file:./skyward-host-0.1.0-1a2b3c4d.tgz", effect: "^3.19.0" })
    expect(() => pointAtSiblings(manifest({ "@skyward/host": "workspace:^" }), packed, workspace)).toThrow(/left dependencies.@skyward\/host as "workspace:\^"; pack with pnpm 10/)
    expect(() => pointAtSiblings(manifest({ "@skyward/host": "^0.0.9" }), packed, workspace)).toThrow(/not @skyward\/host's version 0.1.0: use "workspace:\^"/)
    expect(() => pointAtSiblings(manifest({ "@skyward/fault-tests": "^0.0.0" }), packed, workspace)).toThrow(
      /depends on @skyward\/fault-tests, which is private and so not packed: make @skyward\/fault-tests public or drop the dependency/
    )
  })

  it("are named by their content: the same input gives the same bytes; a changed dependency renames it and its dependents", async () => {
    const { siblingTarballs } = await load()
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-tarball-names-"))
    try {
      // two packages as pnpm packs them: core depends on host
      const pack = async (name: string, deps: Record<string, string>, extra: string) => {
        const root = path.join(dir, "src", name, "package")
        fs.mkdirSync(root, { recursive: true })
        fs.writeFileSync(path.join(root, "package.json"), JSON.stringify({ name: `@skyward/${name}`, version: "0.1.0", dependencies: deps }))
        fs.writeFileSync(path.join(root, "index.js"), extra)
        await run("tar", ["-czf", path.join(dir, "pnpm", `skyward-${name}-0.1.0.tgz`), "-C", path.dirname(root), "package"])
      }
      fs.mkdirSync(path.join(dir, "pnpm"))
      const packages = [{ name: "@skyward/core", version: "0.1.0" }, { name: "@skyward/host", version: "0.1.0" }]
      const names = new Set(packages.map((p) => p.name))
      const write = (out: string) => {
        fs.mkdirSync(path.join(dir, out))
        return siblingTarballs(path.join(dir, "pnpm"), packages, names, path.join(dir, out)).map((t) => path.basename(t.file))
      }
      await pack("host", {}, "export const v = 1\n")
      await pack("core", { "@skyward/host": "^0.1.0", effect: "^3.19.0" }, "export {}\n")
      const [core1, host1] = write("one")
      expect(core1).toMatch(/^skyward-core-0\.1\.0-[0-9a-f]{8}\.tgz$/)
      const { stdout: packedCore } = await run("tar", ["-xzOf", path.join(dir, "one", core1!), "package/package.json"])
      expect(JSON.parse(packedCore).dependencies).toEqual({ "@skyward/host": `file:./${host1}`, effect: "^3.19.0" })
      const { stdout: code } = await run("tar", ["-xzOf", path.join(dir, "one", core1!), "package/index.js"])
      expect(code).toBe("export {}\n")
      expect(write("two")).toEqual([core1, host1])
      expect(fs.readFileSync(path.join(dir, "two", core1!))).toEqual(fs.readFileSync(path.join(dir, "one", core1!)))
      await pack("host", {}, "export const v = 2\n")
      const [core3, host3] = write("three")
      expect(host3).not.toBe(host1)
      expect(core3).not.toBe(core1)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

// getting-started.md's install steps (its `tarballs` blocks), run here as written: the first in
// the clone, the others in the user's project, a new folder outside the workspace.
const page = path.join(repo, "docs/getting-started.md")
const pageBlocks = codeBlocks(fs.readFileSync(page, "utf8"))
const steps = pageBlocks.filter((b) => b.flags.has("tarballs"))
const PACK_STEP = "cd ~/skyward && npx -y pnpm@10 pack:all"
/** The `output` blocks right after a block of the page. */
const outputsOf = (step: Block): Block[] => {
  const after = pageBlocks.slice(pageBlocks.indexOf(step) + 1)
  const end = after.findIndex((b) => !b.flags.has("output"))
  return end === -1 ? after : after.slice(0, end)
}

/** An HTTP server standing for the registry of the @skyward scope: it answers 404 and records what it was asked. */
const fakeScopeRegistry = async () => {
  const asked: string[] = []
  const server = http.createServer((request, response) => {
    asked.push(`${request.method} ${request.url}`)
    response.writeHead(404, { "content-type": "application/json" }).end('{"error":"Not found"}')
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`
  return { asked, url, close: () => new Promise<void>((resolve) => server.close(() => resolve())) }
}

describe("getting-started.md's install, run as written", () => {
  // HOME is a folder of this run: ~/skyward/dist-tarballs is where the tarballs go, ~/my-project the user's project
  let work = ""
  let home = ""
  let project = ""
  let tmp = ""
  let tarballs = ""
  let registry: Awaited<ReturnType<typeof fakeScopeRegistry>> | undefined
  let env: NodeJS.ProcessEnv = {}

  /** Runs one step of the page with bash, in `cwd`; its stdout and stderr, or an error naming the step. */
  const runStep = async (step: Block, cwd: string, extra = "", stepEnv = env): Promise<string> => {
    try {
      const options = { cwd, env: stepEnv, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }
      const { stdout, stderr } = await run("bash", ["-euo", "pipefail", "-c", step.code.trimEnd() + extra], options)
      return stdout + stderr
    } catch (error) {
      const e = error as { stdout?: string; stderr?: string; message: string }
      throw new Error(`docs/getting-started.md:${step.line}: the step failed: ${e.message}\n${e.stdout ?? ""}\n${e.stderr ?? ""}`)
    }
  }
  const expectOutputs = (step: Block, output: string) => {
    for (const block of outputsOf(step))
      for (const line of block.code.split("\n").map((l) => l.trim()).filter(Boolean))
        expect(output, `docs/getting-started.md:${block.line}: output of the step at line ${step.line}`).toContain(line)
  }

  beforeAll(async () => {
    expect(
      steps.map((s) => s.language),
      "docs/getting-started.md's install steps are its three `sh tarballs` blocks: pack, install the library, install the CLI (this test runs them in that order)"
    ).toEqual(["sh", "sh", "sh"])
    expect(steps[0]!.code.trim(), "the first install step packs in the clone").toBe(PACK_STEP)
    work = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-pack-"))
    home = path.join(work, "home")
    tarballs = path.join(home, "skyward", "dist-tarballs")
    project = path.join(home, "my-project")
    tmp = path.join(work, "tmp")
    for (const dir of [project, tmp]) fs.mkdirSync(dir, { recursive: true })
    // the page's files (my_script.py and what it reads) are in the project, as its reader made them
    for (const block of pageBlocks)
      if (block.file !== undefined && !block.flags.has("fragment")) {
        fs.mkdirSync(path.dirname(path.join(project, block.file)), { recursive: true })
        fs.writeFileSync(path.join(project, block.file), block.code)
      }
    registry = await fakeScopeRegistry()
    env = {
      ...process.env,
      HOME: home,
      TMPDIR: tmp,
      FORCE_COLOR: "0",
      // npm keeps its cache and its user config of the real HOME
      npm_config_cache: process.env.npm_config_cache ?? path.join(os.homedir(), ".npm"),
      npm_config_userconfig: process.env.npm_config_userconfig ?? path.join(os.homedir(), ".npmrc"),
      // any registry lookup of an @skyward package goes to the fake registry, which records it
      "npm_config_@skyward:registry": registry.url,
      npm_config_fetch_retries: "0",
      npm_config_prefer_offline: "true",
      npm_config_audit: "false",
      npm_config_fund: "false",
      npm_config_update_notifier: "false",
      // time: no native builds (ssh2's and cbor-x's are optional speed-ups; the CLI works without them)
      npm_config_ignore_scripts: "true"
    }
    // the pack step as written, in this clone (`~/skyward`), into this run's ~/skyward/dist-tarballs;
    // --no-build: the suite has built the packages, and building again from a test would rebuild
    // whatever is being edited in the tree
    const t = Date.now()
    const packStep = { ...steps[0]!, code: steps[0]!.code.replace("~/skyward", JSON.stringify(repo)) }
    const output = await runStep(packStep, repo, ` --no-build --out ${JSON.stringify(tarballs)}`, process.env)
    console.log(`pack:all: ${((Date.now() - t) / 1000).toFixed(1)}s`)
    expect(output).toContain(`wrote ${publishable.length} tarballs, one per public package, to ${tarballs}`)
  })

  afterAll(async () => {
    await registry?.close()
    if (work) fs.rmSync(work, { recursive: true, force: true })
    expect(work === "" || !fs.existsSync(work), `${work} is left behind`).toBe(true)
  })

  it("packs exactly the public packages, each with dist, its Python modules and its @skyward dependencies as sibling tarballs", async () => {
    // skyward-core-0.1.0-<hash of its content>.tgz
    const base = (name: string) => `${name.replace(/^@/, "").replace("/", "-")}-${versions.get(name)}-`
    const files = fs.readdirSync(tarballs).sort()
    const fileOf = (name: string) => files.filter((f) => f.startsWith(base(name)) && /^[0-9a-f]{8}\.tgz$/.test(f.slice(base(name).length)))
    expect(files).toHaveLength(publishable.length)
    for (const { manifest } of publishable) expect(fileOf(manifest.name), `the tarball of ${manifest.name}`).toHaveLength(1)
    for (const { dir, manifest } of publishable) {
      const tarball = path.join(tarballs, fileOf(manifest.name)[0]!)
      const { stdout: listing } = await run("tar", ["-tzf", tarball])
      const files = new Set(listing.split("\n").filter(Boolean).map((f) => f.replace(/^package\//, "")))
      expect(files, manifest.name).toContain("dist/index.js")
      expect(files, manifest.name).toContain("dist/index.d.ts")
      for (const py of pythonFiles(dir)) expect(files, `${manifest.name} ships ${py}`).toContain(py)
      const { stdout: packed } = await run("tar", ["-xzOf", tarball, "package/package.json"])
      expect(packed, manifest.name).not.toContain("workspace:")
      const packedManifest = JSON.parse(packed) as Manifest
      for (const field of ["dependencies", "peerDependencies", "optionalDependencies"] as const)
        for (const [name, range] of Object.entries(packedManifest[field] ?? {})) {
          if (versions.has(name)) expect(range, `${manifest.name} -> ${name}`).toBe(`file:./${fileOf(name)[0]}`)
          else expect(range, `${manifest.name} -> ${name}`).toBe(manifest[field]![name])
        }
    }
  })

  it("installs @skyward/core and @skyward/plugin-sklearn from the tarballs alone, without ssh2 or the AWS SDK, and runs a pool from TypeScript", async () => {
    let t = Date.now()
    expectOutputs(steps[1]!, await runStep(steps[1]!, project))
    console.log(`npm install (core, plugin-sklearn): ${((Date.now() - t) / 1000).toFixed(1)}s`)
    expect(registry!.asked, "npm asked the registry for @skyward packages").toEqual([])
    const saved = JSON.parse(fs.readFileSync(path.join(project, "package.json"), "utf8")) as Manifest
    expect(Object.keys(saved.dependencies ?? {}).sort()).toEqual(["@skyward/core", "@skyward/plugin-sklearn"])
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

    t = Date.now()
    fs.writeFileSync(path.join(project, "main.mts"), USER_SCRIPT)
    fs.writeFileSync(path.join(project, "job.py"), USER_JOB)
    expect(USER_SCRIPT.trim().split("\n").length).toBeLessThanOrEqual(15)
    // tsx keeps a folder in TMPDIR (tsx-<uid>: its IPC pipe, its cache) that outlives it: TMPDIR is this run's
    const { stdout } = await run(process.execPath, [require.resolve("tsx/cli"), "main.mts"], { cwd: project, env, timeout: 240_000 })
    console.log(`tsx main.mts: ${((Date.now() - t) / 1000).toFixed(1)}s`)
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

  it("installs @skyward/cli the same way, and `npx skyward run` runs the page's script in the project", async () => {
    const t = Date.now()
    expectOutputs(steps[2]!, await runStep(steps[2]!, project))
    console.log(`npm install (cli) + npx skyward run: ${((Date.now() - t) / 1000).toFixed(1)}s`)
    expect(registry!.asked, "npm asked the registry for @skyward packages").toEqual([])
    expect(fs.realpathSync(path.join(project, "node_modules/.bin/skyward"))).toBe(fs.realpathSync(path.join(project, "node_modules/@skyward/cli/dist/bin.js")))
    expect(fs.readdirSync(tmp).filter((name) => name !== tsxFolder)).toEqual([])
  })
})
