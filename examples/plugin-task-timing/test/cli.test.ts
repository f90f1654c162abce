import { spawn } from "node:child_process"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "vitest"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
const bin = path.join(repo, "apps/cli/dist/bin.js")
const script = path.join(repo, "examples/plugin-task-timing/test/fixtures/naps.py")

const skyward = (args: ReadonlyArray<string>) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [bin, ...args], { cwd: repo, env: process.env, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000)
    child.on("close", (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
  })

describe("skyward run --plugin ./examples/plugin-task-timing", () => {
  it("times the tasks of an unchanged joblib script and prints the per-node summary when the pool closes", async () => {
    const result = await skyward([
      "run", "--quiet", "--nodes", "2", "--concurrency", "1",
      "--plugin", "./examples/plugin-task-timing", "--plugin", "joblib",
      script
    ])
    expect(result.code, result.stderr).toBe(0)
    expect(result.stdout).toContain("sum: 28")
    const summary = result.stderr.split("\n").filter((line) => line.startsWith("task-timing:"))
    expect(summary[0]).toBe("task-timing: 8 tasks on 2 nodes")
    expect(summary.slice(1).map((line) => line.match(/^task-timing: node (\d+): (\d+) tasks/)!.slice(1).map(Number))).toEqual([
      [0, expect.any(Number)],
      [1, expect.any(Number)]
    ])
    expect(summary.slice(1).reduce((n, line) => n + Number(line.match(/: (\d+) tasks,/)![1]), 0)).toBe(8)
  })
})
