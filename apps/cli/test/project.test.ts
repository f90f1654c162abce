import { execFile } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { promisify } from "node:util"
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest"
import { skyward } from "./cli.js"
import { makeProjectCopy, parseProjectRun, type ProjectCopy, type ProjectRun } from "./project.js"

// examples/project as a new user runs it: its own folder, its own virtual environment active
const exec = promisify(execFile)
let project: ProjectCopy
let plain: ProjectRun

const run = (args: ReadonlyArray<string>, env = project.activeEnv) => skyward(["run", ...args], { cwd: project.dir, env })

beforeAll(async () => {
  project = await makeProjectCopy()
  plain = parseProjectRun((await exec(project.python, ["main.py"], { cwd: project.dir, encoding: "utf8" })).stdout)
  expect(plain.results).toHaveLength(6)
}, 300_000)
afterAll(() => project?.remove())
afterEach(() => fs.rmSync(path.join(project.dir, ".skywardignore"), { force: true }))

describe("examples/project under skyward run, from its folder with its virtual environment active", () => {
  it("gives python main.py's numbers on 2 local nodes, every task on the pool", async () => {
    const result = await run(["--nodes", "2", "--concurrency", "2", "main.py"])
    expect(result.code, result.stderr).toBe(0)
    const ours = parseProjectRun(result.stdout)
    expect(ours.results).toEqual(plain.results)
    expect(ours.tasks.every(([pid]) => pid !== ours.client)).toBe(true)
    expect(new Set(ours.tasks.map(([, node]) => node))).toEqual(new Set(["0", "1"]))
    expect(result.stderr).toMatch(/node 0: working directory 8 files/)
  })

  it("runs every task on the pool's one slot with --nodes 1 --concurrency 1, not in the client", async () => {
    const result = await run(["--quiet", "--nodes", "1", "--concurrency", "1", "main.py"])
    expect(result.code, result.stderr).toBe(0)
    const ours = parseProjectRun(result.stdout)
    expect(ours.results).toEqual(plain.results)
    expect(ours.tasks.every(([pid, node]) => pid !== ours.client && node === "0")).toBe(true)
    expect(result.stderr).toBe("") // nothing differs between client and workers: no note
  })

  it("says why a data file a task opens stayed behind, and how to take it back", async () => {
    fs.writeFileSync(path.join(project.dir, ".skywardignore"), "data/\n")
    const result = await run(["--quiet", "--nodes", "1", "main.py"])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/FileNotFoundError/)
    expect(result.stderr).toContain("data/sales.csv")
    expect(result.stderr).toContain(".skywardignore")
  })

  it("says why a module of the project is missing on the workers", async () => {
    fs.writeFileSync(path.join(project.dir, ".skywardignore"), "stores/\n")
    const result = await run(["--quiet", "--nodes", "1", "main.py"])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain("No module named 'stores'")
    expect(result.stderr).toContain(".skywardignore")
  })

  it("with --no-workdir sends nothing, and a task whose module stayed behind says so", async () => {
    const result = await run(["--quiet", "--nodes", "1", "--no-workdir", "main.py"])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toMatch(/No module named 'stores'[\s\S]*No working directory was sent \(--no-workdir\)/)
  })

  it("stops a working directory over its limit before any node starts, naming its largest entries", async () => {
    const result = await run(["--nodes", "2", "--workdir-limit", "4KiB", "main.py"])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain(`the working directory ${project.dir} is`)
    expect(result.stderr).toMatch(/largest entries: data\/ \(\d+ KiB\)/)
    expect(result.stderr).not.toContain("provisioned")
  })

  it("without a virtual environment, runs in the pool's Image and says how to add a missing package", async () => {
    const result = await run(["--quiet", "main.py"], project.plainEnv)
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain("No module named 'storenames'")
    expect(result.stderr).toMatch(/add its package with --pip.*virtual environment active/)
  })
})

describe("a pool of one slot", () => {
  it("runs a joblib call there with the pool's --timeout, not in the client", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-one-slot-"))
    try {
      fs.writeFileSync(
        path.join(dir, "stuck.py"),
        "import os, time\nfrom joblib import Parallel, delayed\n\ndef stuck(i):\n    time.sleep(60 if os.environ.get('SKYWARD_NODE_INDEX') else 0)\n    return i\n\n" +
          "print(Parallel(n_jobs=-1)(delayed(stuck)(i) for i in range(2)))\n"
      )
      const started = Date.now()
      const result = await skyward(["run", "--quiet", "--nodes", "1", "--concurrency", "1", "--timeout", "2", "stuck.py"], { cwd: dir })
      expect(result.code).not.toBe(0)
      expect(result.stderr).toMatch(/TaskTimeoutError: .*timeout of 2/)
      expect(Date.now() - started).toBeLessThan(30_000)
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})

/** A CPython 3.9 on this machine (the oldest client Skyward supports), if there is one. */
const python39 = [
  // a pyenv shim runs only the version a folder selects: the interpreters themselves
  ...(process.env.PATH ?? "").split(":").filter((dir) => !dir.includes("/shims")).map((dir) => path.join(dir, "python3.9")),
  ...(fs.existsSync(path.join(os.homedir(), ".pyenv/versions"))
    ? fs.readdirSync(path.join(os.homedir(), ".pyenv/versions")).filter((v) => v.startsWith("3.9.")).map((v) => path.join(os.homedir(), ".pyenv/versions", v, "bin/python3.9"))
    : [])
].find((file) => fs.existsSync(file))

describe.skipIf(python39 === undefined)("a Python 3.9 client (the oldest supported)", () => {
  it("runs its script under skyward run with its virtual environment active: the bridge in 3.9, the workers on 3.9", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-py39-"))
    try {
      await exec(python39!, ["-m", "venv", path.join(dir, ".venv")])
      await exec(path.join(dir, ".venv/bin/python"), ["-m", "pip", "install", "-q", "--disable-pip-version-check", "joblib"])
      fs.writeFileSync(
        path.join(dir, "main.py"),
        "import json, sys\nfrom joblib import Parallel, delayed\n\ndef version(i):\n    return i * i, '%d.%d' % sys.version_info[:2]\n\n" +
          "print(json.dumps(Parallel(n_jobs=-1)(delayed(version)(i) for i in range(8))))\n"
      )
      const { VIRTUAL_ENV: _active, ...plainEnv } = process.env
      const venv = path.join(dir, ".venv")
      const result = await skyward(["run", "--quiet", "--nodes", "2", "--concurrency", "1", "main.py"], {
        cwd: dir,
        env: { ...plainEnv, VIRTUAL_ENV: venv, PATH: `${path.join(venv, "bin")}:${process.env.PATH ?? ""}` }
      })
      expect(result.code, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout)).toEqual([0, 1, 4, 9, 16, 25, 36, 49].map((square) => [square, "3.9"]))
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
