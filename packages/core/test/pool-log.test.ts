import { execFile } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { promisify } from "node:util"
import { afterEach, describe, expect, it } from "vitest"
import { ComputePool, RemoteError, type PoolOptionsInput } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

const run = promisify(execFile)
const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures")
const funcs = path.join(fixtures, "skytest_funcs.py")
const options = (extra: Partial<PoolOptionsInput> = {}): PoolOptionsInput => ({
  nodes: 1,
  worker: { concurrency: 1 },
  workdir: false,
  image: { files: { "skytest_funcs.py": funcs } },
  ...extra
})

/** Runs fixtures/log-child.mjs (a user's program, on the built package) in its own Node process. */
const child = (...args: string[]) => run(process.execPath, [path.join(fixtures, "log-child.mjs"), funcs, ...args], { timeout: 60_000 })

// cursor movement, line clearing, colours, carriage returns: what a plain log must not hold
const CONTROL = new RegExp(String.raw`\u001b|\r`)

afterEach(async () => {
  expect(await waitForNoAgents()).toEqual([])
  expect(nodeWorkDirs()).toEqual([])
  expect(tmpEntries()).toEqual([])
})

describe("what a pool logs", () => {
  it("by default, on stderr as `skyward run` shows it: nodes, tasks' output and warnings, the task line; plain lines when stderr is not a terminal", async () => {
    const { stdout, stderr } = await child()
    expect(JSON.parse(stdout)).toEqual(["STDERR", 1, 4, 9])
    const lines = stderr.split("\n")
    expect(lines).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^skyward: node 0: provisioned \(.+\)$/),
        expect.stringMatching(/^skyward: node 0: bootstrapped in [\d.]+s/),
        "skyward: node 0: ready (1 slot)",
        "[node 0] task says stderr",
        expect.stringMatching(/^\[node 0\] .*skytest_funcs\.py:\d+: UserWarning: careful with stderr$/),
      ])
    )
    // the last task line, when the pool closes (a slow first run also says one every 2 s while the counts change)
    expect(lines.filter((l) => l.startsWith("skyward: tasks:")).at(-1)).toMatch(/^skyward: tasks: 4 done of 4 \([\d.]+\/s\)$/)
    expect(stderr).not.toMatch(CONTROL)
  })

  it("nothing with `log: false`", async () => {
    const { stdout, stderr } = await child("quiet")
    expect(JSON.parse(stdout)).toEqual(["STDERR", 1, 4, 9])
    expect(stderr).toBe("")
  })
})

describe("pool.call", () => {
  it("calls one Python function with CBOR arguments; a Python exception is a RemoteError with its traceback; output goes to the `log` stream", async () => {
    let logged = ""
    const log = { write: (text: string) => void (logged += text) }
    const forwarded: string[] = []
    const [sum, upper, error] = await ComputePool.use(options({ log }), async (pool) => {
      // a task whose submitter shows its output itself (the joblib bridge's): not in the log
      await new Promise<void>((resolve, reject) =>
        pool.dispatch(
          { kind: "call", fn: "skytest_funcs:noisy", args: ["forwarded"] },
          { onDone: () => resolve(), onFailed: reject, onLog: (_node, _stream, line) => void forwarded.push(line) }
        )
      )
      return [
        await pool.call<number>("skytest_funcs:add", [2, 40]),
        await pool.call<string>("skytest_funcs:noisy", ["sink"]),
        await pool.call("skytest_funcs:boom", ["bad row"]).catch((e: unknown) => e)
      ]
    })
    expect(sum).toBe(42)
    expect(upper).toBe("SINK")
    expect(error).toBeInstanceOf(RemoteError)
    const remote = error as RemoteError
    expect(remote._tag).toBe("RemoteError")
    expect(remote.excType).toBe("builtins.ValueError")
    expect(remote.message).toBe("bad row")
    expect(remote.traceback).toMatch(/Traceback \(most recent call last\):[\s\S]*skytest_funcs\.py.*in boom[\s\S]*ValueError: bad row/)
    expect(logged).toContain("[node 0] task says sink\n")
    expect(logged).toMatch(/\[node 0\] .*UserWarning: careful with sink\n/)
    expect(logged).toContain("[node 0] boom is running: bad row\n")
    expect(logged).toContain("skyward: node 0: ready (1 slot)\n")
    expect(logged).toMatch(/skyward: tasks: 3 done, 1 failed of 4 \(/)
    expect(forwarded).toContain("task says forwarded")
    expect(logged).not.toContain("forwarded")
  })
})
