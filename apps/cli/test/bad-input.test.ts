import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { splitScriptArgs } from "../src/index.js"
import { skyward } from "./cli.js"

const script = path.join(os.tmpdir(), `skyward-cli-ok-${process.pid}.py`)
fs.writeFileSync(script, "print('hello')\n")

const oneLine = (stderr: string) => stderr.trim().split("\n").filter((l) => l.startsWith("skyward:"))

describe("skyward run refuses bad input with one line and exit code 2", () => {
  it("a missing script", async () => {
    const result = await skyward(["run", "--quiet", "does-not-exist.py"])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)).toEqual(["skyward: script not found: does-not-exist.py"])
  })

  it("--nodes 0", async () => {
    const result = await skyward(["run", "--quiet", "--nodes", "0", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/^skyward: nodes: must be a positive integer/)
  })

  it("an unknown plugin", async () => {
    const result = await skyward(["run", "--quiet", "--plugin", "no-such-plugin-xyz", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/^skyward: unknown plugin "no-such-plugin-xyz"/)
  })

  it("a malformed --env", async () => {
    const result = await skyward(["run", "--quiet", "--env", "NOEQUALS", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)).toEqual(['skyward: --env "NOEQUALS": expected KEY=VALUE'])
  })

  it("a malformed pip requirement", async () => {
    const result = await skyward(["run", "--quiet", "--pip", "numpy===", script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/image\.pip\.0: malformed pip requirement/)
  })

  it("a config file that throws", async () => {
    const config = path.join(os.tmpdir(), `skyward-bad-config-${process.pid}.mjs`)
    fs.writeFileSync(config, "throw new Error('config exploded')\n")
    const result = await skyward(["run", "--quiet", "--config", config, script])
    expect(result.code).toBe(2)
    expect(oneLine(result.stderr)[0]).toMatch(/config exploded/)
  })

  it("an unknown option or a wrong type", async () => {
    for (const args of [["--bogus"], ["--nodes", "two"], ["--executor", "fork"]]) {
      const result = await skyward(["run", ...args, script])
      expect(result.code, args.join(" ")).toBe(2)
    }
  })
})

describe("script arguments", () => {
  it("belong to the script after its path", () => {
    expect(splitScriptArgs(["run", "--nodes", "2", "a.py", "--nodes", "9", "x"])).toEqual({
      ours: ["run", "--nodes", "2", "a.py"],
      theirs: ["--nodes", "9", "x"]
    })
  })
})
