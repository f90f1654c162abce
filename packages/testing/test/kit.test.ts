import { spawn } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { definePlugin, type Plugin, PluginError, withEnv, withPip } from "@skyward/contracts"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { descendantsOf, findLeaks, isAlive, LeakError, runPluginHooks, withTestPool } from "../src/index.js"

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures")
const funcs = { "skytest_kit_funcs.py": path.join(fixtures, "skytest_kit_funcs.py") }

/** A plugin using every hook: Image env, a bootstrap op, Python with task and app hooks, a client contribution. */
const kitPlugin = (greeting = "hello") =>
  definePlugin({
    name: "kit",
    requires: ">=0.1.0",
    image: (image) => withEnv(image, { KIT_GREETING: greeting }),
    bootstrap: (cluster) => [`echo bootstrapping ${cluster.nodes.length} nodes`],
    python: {
      modules: [{ name: "skytest_kit_plugin", path: path.join(fixtures, "python") }],
      task: "skytest_kit_plugin:tag",
      app: "skytest_kit_plugin:app"
    },
    aroundClient: () => Effect.succeed({ env: { KIT_CLIENT: "from aroundClient" } })
  })

describe("runPluginHooks", () => {
  it("runs the client-side hooks with no pool and finds nothing wrong with a good plugin", () => {
    const report = runPluginHooks(kitPlugin("hi"), { image: { pip: ["numpy"] }, cluster: { nodes: 3 } })
    expect(report.problems).toEqual([])
    expect(report.warnings).toEqual([])
    expect(report.defined).toBe(true)
    expect(report.image.env).toEqual({ KIT_GREETING: "hi" })
    expect(report.image.pip).toEqual(["numpy"])
    expect(report.bootstrap).toEqual(["echo bootstrapping 3 nodes"])
    expect(report.taskHook).toBe("skytest_kit_plugin:tag")
    expect(report.appHook).toBe("skytest_kit_plugin:app")
  })

  it("lists what is wrong: core version, missing folder, malformed hook, a throwing hook, a hook not shipped", () => {
    const broken: Plugin = {
      name: "broken",
      requires: ">=99",
      image: (image) => withPip(image, "numpy"),
      bootstrap: () => {
        throw new Error("no cluster for me")
      },
      python: { modules: [{ name: "gone", path: path.join(fixtures, "no-such-folder") }], task: "not a spec", app: "elsewhere:app" }
    }
    const report = runPluginHooks(broken)
    expect(report.defined).toBe(false)
    expect(report.image.pip).toEqual(["numpy"])
    expect(report.problems).toHaveLength(4)
    expect(report.problems[0]).toMatch(/requires @skyward\/core >=99/)
    expect(report.problems[1]).toBe("bootstrap hook failed: no cluster for me")
    expect(report.problems[2]).toMatch(/no-such-folder does not exist/)
    expect(report.problems[3]).toBe('task hook "not a spec" is not "module:attr"')
    expect(report.warnings).toEqual(["app hook elsewhere:app: module elsewhere is not in the plugin's python.modules folders"])
  })
})

describe("withTestPool", () => {
  it("opens a real pool with the plugin, captures events and task output, runs client Python, and leaves nothing behind", async () => {
    const processes: number[] = []
    const { value, events, logs } = await withTestPool(
      { nodes: 2, worker: { concurrency: 1 }, image: { files: funcs }, plugins: [kitPlugin()] },
      async ({ pool, eventsOf, runPython }) => {
        expect(pool.totalSlots).toBe(2)
        expect(eventsOf("NodeReady")).toHaveLength(2)
        const client = await runPython("import os, sys; print(os.environ['KIT_CLIENT'], os.environ['KIT_GREETING'], sys.argv[1:])", {
          args: ["a", "b"]
        })
        expect(client).toEqual({ code: 0, stdout: "from aroundClient hello ['a', 'b']\n", stderr: "" })
        const results = await pool.map<{ x: number; app: string; node: number; greeting: string }>("skytest_kit_funcs:probe", [1, 2, 3, 4])
        processes.push(...eventsOf("NodeReady").map((e) => e.pid), ...descendantsOf(eventsOf("NodeReady").map((e) => e.pid)))
        return results
      }
    )
    // the agents and their slot processes were running, and are gone now
    expect(processes.length).toBeGreaterThanOrEqual(4)
    expect(processes.filter(isAlive)).toEqual([])
    expect(value.map((r) => r.x)).toEqual([1, 2, 3, 4])
    expect(value.every((r) => r.app.startsWith("entered in ") && r.greeting === "hello")).toBe(true)
    expect(new Set(value.map((r) => r.node))).toEqual(new Set([0, 1]))
    expect(logs.filter((line) => line === "kit-hook: before")).toHaveLength(4)
    expect(events.filter((e) => e._tag === "TaskDone")).toHaveLength(4)
    expect(events.some((e) => e._tag === "NodeBootstrapping" && e.line.includes("bootstrapping 2 nodes"))).toBe(true)
  })

  it("rejects with the body's error after closing the pool, and with a plugin's error when its hook fails", async () => {
    await expect(
      withTestPool({ image: { files: funcs } }, async ({ pool }) => {
        await pool.map("skytest_kit_funcs:probe", [1])
        throw new Error("the test failed")
      })
    ).rejects.toThrow("the test failed")
    const failing = definePlugin({
      name: "failing",
      aroundClient: () => Effect.fail(new PluginError({ plugin: "failing", message: "cannot start" }))
    })
    await expect(withTestPool({ plugins: [failing] }, async () => "never")).rejects.toMatchObject({ _tag: "PluginError", message: "cannot start" })
  })

  it("fails with a LeakError when a path it must see removed is still there", async () => {
    const kept = fs.mkdtempSync(path.join(os.tmpdir(), "skytest-kit-kept-"))
    try {
      const error = await withTestPool({}, async () => "done", { removed: [kept], graceMs: 200 }).catch((e) => e)
      expect(error).toBeInstanceOf(LeakError)
      expect(error.leaks).toEqual({ processes: [], paths: [kept] })
    } finally {
      fs.rmSync(kept, { recursive: true, force: true })
    }
  })
})

describe("findLeaks", () => {
  it("reports a process still running and a path still there, and nothing once they are gone", async () => {
    const child = spawn("sleep", ["30"], { stdio: "ignore" })
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skytest-kit-leak-"))
    try {
      const leaks = await findLeaks({ pids: [child.pid!], paths: [dir] }, 100)
      expect(leaks.processes.map((p) => p.pid)).toEqual([child.pid])
      expect(leaks.processes[0]!.command).toBe("sleep 30")
      expect(leaks.paths).toEqual([dir])
    } finally {
      child.kill("SIGKILL")
      fs.rmSync(dir, { recursive: true, force: true })
    }
    await new Promise((resolve) => child.once("exit", resolve))
    expect(isAlive(child.pid!)).toBe(false)
    expect(await findLeaks({ pids: [child.pid!], paths: [dir] }, 100)).toEqual({ processes: [], paths: [] })
  })
})
