import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { compiledRunner, compiledRunnerName, type WheelPlatform } from "../src/internal/wheelhouse.js"

// a stand-in for pip's wheel: a package whose __main__ says where its modules came from
const FAKE_WHEEL = String.raw`
import sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w") as z:
    z.writestr("pip/__init__.py", "VALUE = 42\n")
    # as pip's own: the zip's root first on sys.path, so "pip" is this one
    z.writestr("pip/__main__.py", "import os, sys\nsys.path.insert(0, os.path.dirname(os.path.dirname(__file__)))\nimport pip\nprint('pip from', pip.__file__, pip.VALUE)\n")
    z.writestr("pip-0.0.1.dist-info/METADATA", "Name: pip\nVersion: 0.0.1\n")
`

describe("the pip that runs installs on the nodes", () => {
  let dir: string
  const saved = process.env.SKYWARD_CACHE_DIR
  const version = execFileSync("python3", ["-c", "import sys; print('%d.%d' % sys.version_info[:2])"], { encoding: "utf8" }).trim()
  const platform = (pythonVersion: string): WheelPlatform => ({
    pythonVersion,
    abi: `cp${pythonVersion.replace(".", "")}`,
    platforms: ["manylinux_2_17_x86_64"],
    key: "manylinux_2_17_x86_64"
  })
  const wheel = "pip-0.0.1-py3-none-any.whl"
  const wheelhouse = (name: string) => {
    const folder = path.join(dir, "wheelhouses", name)
    fs.mkdirSync(folder, { recursive: true })
    execFileSync("python3", ["-c", FAKE_WHEEL, path.join(folder, wheel)])
    return folder
  }

  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "sky-runner-"))
    process.env.SKYWARD_CACHE_DIR = dir
  })
  afterAll(() => {
    if (saved === undefined) delete process.env.SKYWARD_CACHE_DIR
    else process.env.SKYWARD_CACHE_DIR = saved
    fs.rmSync(dir, { recursive: true, force: true })
  })

  it("is the wheel with its bytecode, compiled once on the client for every wheelhouse of that Python, and runs from it", async () => {
    const first = wheelhouse("a")
    const second = wheelhouse("b")
    const [a, again] = await Promise.all([
      Effect.runPromise(compiledRunner(first, wheel, platform(version))),
      Effect.runPromise(compiledRunner(first, wheel, platform(version)))
    ])
    const b = await Effect.runPromise(compiledRunner(second, wheel, platform(version)))
    const name = compiledRunnerName(wheel, platform(version).abi)
    expect([a, again, b]).toEqual([name, name, name])
    // one compiled zip on this machine, linked into each wheelhouse (whose files the nodes receive)
    const shared = fs.statSync(path.join(dir, "runners", name))
    expect(fs.statSync(path.join(first, name)).ino).toBe(shared.ino)
    expect(fs.statSync(path.join(second, name)).ino).toBe(shared.ino)
    expect(fs.readdirSync(path.join(dir, "runners"))).toEqual([name])
    // the node's Python loads the modules' bytecode from the zip: nothing of pip is compiled there
    const ran = execFileSync("python3", [path.join(first, name, "pip")], { encoding: "utf8" })
    expect(ran).toMatch(new RegExp(`^pip from .*-bytecode\\.zip/pip/__init__\\.pyc 42$`, "m"))
  })

  it("is the wheel itself when this machine has no Python of the node's version", async () => {
    const folder = wheelhouse("c")
    expect(await Effect.runPromise(compiledRunner(folder, wheel, platform("3.1")))).toBe(wheel)
    expect(fs.readdirSync(folder)).toEqual([wheel])
  })
})
