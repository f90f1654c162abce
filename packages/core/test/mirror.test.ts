import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { imageHash } from "@skyward/contracts"
import { ComputePool, local, mirrorEnvironment, type EnvironmentMirror } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

// A user's virtual environment: a package from the index, and the user's own library installed in
// editable mode; no cloudpickle, cbor2 or lz4 (what the bridge needs comes apart, never into it).
let home: string
let venv: string
let library: string
let python: string

const run = (command: string, args: ReadonlyArray<string>, cwd?: string) =>
  execFileSync(command, args, { encoding: "utf8", cwd, stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, PIP_DISABLE_PIP_VERSION_CHECK: "1" } })

const listing = (dir: string): string[] => fs.readdirSync(dir, { recursive: true }).map(String).sort()

const mirror = (): Promise<EnvironmentMirror> => Effect.runPromise(mirrorEnvironment(python))

beforeAll(() => {
  // beside the file's private TMPDIR, not in it: its leak checks are for what pools leave
  home = fs.mkdtempSync(path.join(path.dirname(os.tmpdir()), "skyward-mirror-test-"))
  venv = path.join(home, "venv")
  library = path.join(home, "answers")
  fs.mkdirSync(path.join(library, "answers"), { recursive: true })
  fs.writeFileSync(
    path.join(library, "pyproject.toml"),
    '[build-system]\nrequires = ["setuptools>=64"]\nbuild-backend = "setuptools.build_meta"\n[project]\nname = "answers"\nversion = "0.1.0"\n[tool.setuptools]\npackages = ["answers"]\n'
  )
  fs.writeFileSync(path.join(library, "answers", "__init__.py"), "def answer(_):\n    return 42\n")
  run("python3", ["-m", "venv", venv])
  python = path.join(venv, "bin", "python")
  run(python, ["-m", "pip", "install", "-q", "six==1.16.0", "-e", library])
}, 300_000)

afterAll(() => fs.rmSync(home, { recursive: true, force: true }))

describe("mirrorEnvironment: the workers' environment made from the client's", () => {
  it("pins every distribution, builds the editable library as a wheel, and installs what the bridge needs apart", async () => {
    const before = listing(library)
    const result = await mirror()
    const version = run(python, ["-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"]).trim()
    expect(result.version).toBe(version)
    expect(result.mirror.python).toBe(version)
    expect(result.mirror.pip).toContain("six==1.16.0")
    expect(result.mirror.pip.some((r) => r.startsWith("pip"))).toBe(false)
    const wheel = result.mirror.pip.find((r) => r.startsWith("answers @ file://"))!
    expect(fs.existsSync(fileURLToPath(wheel.split(" @ ")[1]!))).toBe(true)
    // cloudpickle, cbor2 and lz4: installed apart for the client, at the versions the workers get
    for (const name of ["cloudpickle", "cbor2", "lz4"]) expect(result.mirror.pip.some((r) => r.startsWith(`${name}==`))).toBe(true)
    expect(fs.readdirSync(result.clientPath[0]!)).toContain("cbor2")
    expect(() => run(python, ["-c", "import cbor2"])).toThrow() // the user's environment did not change
    expect(listing(library)).toEqual(before) // nor the library's folder (the wheel was built from a copy)
    expect(result.notes).toEqual([])
    expect(result.baseInterpreter).not.toContain(venv)
  }, 300_000)

  it("gives the library's wheel a new requirement only when what the wheel holds changes", async () => {
    const wheelOf = async () => {
      const lines: string[] = []
      const result = await Effect.runPromise(mirrorEnvironment(python, (line) => lines.push(line)))
      return { requirement: result.mirror.pip.find((r) => r.startsWith("answers @")), built: lines.some((l) => l.startsWith("building the wheel of answers")) }
    }
    const first = await wheelOf()
    expect(await wheelOf()).toEqual({ requirement: first.requirement, built: false })
    // a file of the folder that the wheel leaves out: built again, the same wheel (the same Image)
    fs.writeFileSync(path.join(library, "NOTES.txt"), `${Date.now()}\n`)
    expect(await wheelOf()).toEqual({ requirement: first.requirement, built: true })
    fs.writeFileSync(path.join(library, "answers", "__init__.py"), "def answer(_):\n    return 43\n")
    const edited = await wheelOf()
    expect(edited.built).toBe(true)
    expect(edited.requirement).not.toBe(first.requirement)
    fs.writeFileSync(path.join(library, "answers", "__init__.py"), "def answer(_):\n    return 42\n")
  }, 300_000)

  it("is what a pool's workers run: the library's code, from the same interpreter as the client's", async () => {
    const result = await mirror()
    const image = { python: result.version.split(".").slice(0, 2).join("."), mirror: result.mirror }
    expect(imageHash({ pip: [], pipIndexes: [], env: {}, apt: [], files: {}, ...image })).not.toBe(
      imageHash({ pip: [], pipIndexes: [], env: {}, apt: [], files: {}, python: image.python })
    )
    const answers = await ComputePool.use({ provider: local({ python: result.baseInterpreter }), workdir: false, image }, (pool) =>
      pool.map<number>("answers:answer", [0, 1])
    )
    expect(answers).toEqual([42, 42])
    expect(await waitForNoAgents()).toEqual([])
    expect(nodeWorkDirs()).toEqual([])
    expect(tmpEntries()).toEqual([])
  }, 300_000)
})
