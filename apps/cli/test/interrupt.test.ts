import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin, repo } from "./cli.js"
import { processesMarked } from "./processes.js"

const scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-sleep-"))
const script = path.join(scriptDir, "script.py")
afterAll(() => fs.rmSync(scriptDir, { recursive: true, force: true }))
fs.writeFileSync(
  script,
  "import time\nfrom joblib import Parallel, delayed\nprint('started', flush=True)\nParallel(n_jobs=-1)(delayed(time.sleep)(30) for _ in range(8))\n"
)

describe("Ctrl-C", () => {
  it("while tasks run: exit 130 within 10 s, nothing left running", async () => {
    const marker = `SKYWARD_TEST_MARK=${randomUUID()}`
    const child = spawn(process.execPath, [bin, "run", "--quiet", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", "--env", marker, script], {
      cwd: repo,
      stdio: ["ignore", "pipe", "pipe"]
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    try {
      await new Promise<void>((resolve) => child.stdout.on("data", (chunk) => String(chunk).includes("started") && resolve()))
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      expect(processesMarked(marker).length).toBeGreaterThan(2)
      const interruptedAt = Date.now()
      child.kill("SIGINT")
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
      expect(code, stderr).toBe(130)
      expect(Date.now() - interruptedAt).toBeLessThan(10_000)
      expect(processesMarked(marker)).toEqual([])
    } finally {
      child.kill("SIGKILL")
      for (const pid of processesMarked(marker)) process.kill(pid, "SIGKILL")
    }
  })
})
