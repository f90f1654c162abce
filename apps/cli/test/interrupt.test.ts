import { spawn } from "node:child_process"
import { randomUUID } from "node:crypto"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { afterAll, describe, expect, it } from "vitest"
import { bin } from "./cli.js"
import { processesMarked } from "./processes.js"

const scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-sleep-"))
const script = path.join(scriptDir, "script.py")
afterAll(() => fs.rmSync(scriptDir, { recursive: true, force: true }))
fs.writeFileSync(
  script,
  "import time\nfrom joblib import Parallel, delayed\nprint('started', flush=True)\nParallel(n_jobs=-1)(delayed(time.sleep)(30) for _ in range(8))\n"
)

const INTERRUPTED = "skyward: interrupted; stopped 2 nodes (4 task slots), removed their temporary folders\n"

describe("Ctrl-C", () => {
  // a terminal's Ctrl-C signals the whole foreground process group (skyward and the script); `kill -INT` only skyward
  it.each([
    { who: "a terminal's Ctrl-C (SIGINT to the process group)", group: true },
    { who: "SIGINT to skyward alone", group: false }
  ])("$who while tasks run: exit 130 within 10 s, one line on stderr, nothing left running", async ({ group }) => {
    const marker = `SKYWARD_TEST_MARK=${randomUUID()}`
    const child = spawn(process.execPath, [bin, "run", "--quiet", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", "--env", marker, script], {
      cwd: scriptDir,
      stdio: ["ignore", "pipe", "pipe"],
      detached: group
    })
    let stderr = ""
    child.stderr.on("data", (chunk) => (stderr += chunk))
    try {
      await new Promise<void>((resolve) => child.stdout.on("data", (chunk) => String(chunk).includes("started") && resolve()))
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      expect(processesMarked(marker).length).toBeGreaterThan(2)
      const interruptedAt = Date.now()
      if (group) process.kill(-child.pid!, "SIGINT")
      else child.kill("SIGINT")
      const code = await new Promise<number | null>((resolve) => child.on("close", resolve))
      expect(code, stderr).toBe(130)
      // --quiet: nothing before; and after, no KeyboardInterrupt traceback, no node lost, no task counts
      expect(stderr).toBe(INTERRUPTED)
      expect(Date.now() - interruptedAt).toBeLessThan(10_000)
      expect(processesMarked(marker)).toEqual([])
    } finally {
      child.kill("SIGKILL")
      for (const pid of processesMarked(marker)) process.kill(pid, "SIGKILL")
    }
  })
})
