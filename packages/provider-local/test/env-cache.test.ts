import { execFileSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { emptyImage, imageHash, type Image } from "@skyward/contracts"
import { listEnvironments, prepareLocalEnvironment, removeEnvironment } from "../src/index.js"

// a cache of this file's own: the environments it makes and removes are no one else's
let cache: string
const saved = process.env.SKYWARD_CACHE_DIR
beforeAll(() => {
  // beside the file's private TMPDIR, not in it: the leak checks there are for what pools leave
  cache = fs.mkdtempSync(path.join(path.dirname(os.tmpdir()), "skyward-env-cache-test-"))
  process.env.SKYWARD_CACHE_DIR = cache
})
afterAll(() => {
  if (saved === undefined) delete process.env.SKYWARD_CACHE_DIR
  else process.env.SKYWARD_CACHE_DIR = saved
  fs.rmSync(cache, { recursive: true, force: true })
})

const build = (image: Image, lines: string[] = []) => Effect.runPromise(prepareLocalEnvironment(image, imageHash(image), 0, (line) => lines.push(line)))

/** Bytes of the regular files under `dir` but bytecode, with one link and with more than one. */
const linkedBytes = (dir: string) => {
  let own = 0
  let linked = 0
  for (const name of fs.readdirSync(dir, { recursive: true, encoding: "utf8" })) {
    const stat = fs.lstatSync(path.join(dir, name))
    if (!stat.isFile() || name.includes("__pycache__")) continue
    if (stat.nlink > 1) linked += stat.size
    else own += stat.size
  }
  return { own, linked }
}

describe("cached environments", () => {
  it("a second environment with one more package shares the first's files; both are listed with their use; removing one leaves the other working", async () => {
    const base: Image = { ...emptyImage }
    const more: Image = { ...emptyImage, pip: ["six==1.16.0"] }
    const first = await build(base)
    const lines: string[] = []
    const second = await build(more, lines)
    const site = (env: string) => path.join(env, "lib", fs.readdirSync(path.join(env, "lib"))[0]!, "site-packages")
    const { own, linked } = linkedBytes(site(second.dir))
    const sixBytes = fs.statSync(path.join(site(second.dir), "six.py")).size
    expect(lines.some((line) => /of its packages shared with other environments \(hard links\)$/.test(line))).toBe(true)
    // its own (bytecode aside, which names its environment's path): six, and what records where it was installed
    expect(linked).toBeGreaterThan(1_000_000)
    expect(own).toBeLessThan(sixBytes + 100_000)

    const listed = await listEnvironments()
    expect(listed.map((env) => env.dir).sort()).toEqual([first.dir, second.dir].sort())
    expect(listed[0]!.dir).toBe(second.dir) // most recently used first
    const listedSecond = listed.find((env) => env.dir === second.dir)!
    expect(listedSecond.pip).toEqual(["six==1.16.0"])
    expect(listedSecond.ready).toBe(true)
    expect(listedSecond.sharedBytes).toBeGreaterThan(1_000_000)

    await build(base) // reused: its last use moves up
    expect((await listEnvironments())[0]!.dir).toBe(first.dir)

    expect(await removeEnvironment(listed.find((env) => env.dir === first.dir)!)).toBe(true)
    expect(fs.existsSync(first.dir)).toBe(false)
    expect(execFileSync(second.python, ["-c", "import six, cloudpickle, cbor2, lz4; print(six.__version__)"], { encoding: "utf8" }).trim()).toBe("1.16.0")
    expect((await listEnvironments()).map((env) => env.dir)).toEqual([second.dir])
  }, 240_000)
})
