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
// each task says it runs (a file named by its pid in the folder given as the script's argument), then sleeps
fs.writeFileSync(
  script,
  "import os, sys, time\nfrom joblib import Parallel, delayed\n\ndef nap(folder):\n    open(os.path.join(folder, str(os.getpid())), 'w').close()\n    time.sleep(30)\n\n" +
    "print('started', flush=True)\nParallel(n_jobs=-1)(delayed(nap)(sys.argv[1]) for _ in range(8))\n"
)

const INTERRUPTED = "skyward: interrupted; stopped 2 nodes (4 task slots), removed their temporary folders\n"

describe("Ctrl-C", () => {
  // a terminal's Ctrl-C signals the whole foreground process group (skyward and the script); `kill -INT` only skyward
  it.each([
    { who: "a terminal's Ctrl-C (SIGINT to the process group)", group: true },
    { who: "SIGINT to skyward alone", group: false }
  ])("$who while tasks run: exit 130 within 10 s, one line on stderr, nothing left running", async ({ group }) => {
    const marker = `SKYWARD_TEST_MARK=${randomUUID()}`
    const running = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-cli-running-"))
    const child = spawn(process.execPath, [bin, "run", "--quiet", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", "--env", marker, script, running], {
      cwd: scriptDir,
      stdio: ["ignore", "pipe", "pipe"],
      detached: group
    })
    let stderr = ""
    child.stdout.resume()
    child.stderr.on("data", (chunk) => (stderr += chunk))
    try {
      const closed = new Promise<number | null>((resolve) => child.on("close", resolve))
      // wait (no fixed time) until a task runs on each of the 4 slots; if skyward ends before, say how
      let ended: number | null | undefined
      void closed.then((code) => (ended = code))
      const deadline = Date.now() + 120_000
      while (ended === undefined && fs.readdirSync(running).length < 4 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 100))
      expect(ended, stderr).toBeUndefined()
      expect(fs.readdirSync(running)).toHaveLength(4)
      expect(processesMarked(marker).length).toBeGreaterThan(2)
      const interruptedAt = Date.now()
      if (group) process.kill(-child.pid!, "SIGINT")
      else child.kill("SIGINT")
      const code = await closed
      expect(code, stderr).toBe(130)
      // --quiet: nothing before; and after, no KeyboardInterrupt traceback, no node lost, no task counts
      expect(stderr).toBe(INTERRUPTED)
      expect(Date.now() - interruptedAt).toBeLessThan(10_000)
      expect(processesMarked(marker)).toEqual([])
    } finally {
      child.kill("SIGKILL")
      for (const pid of processesMarked(marker)) process.kill(pid, "SIGKILL")
      fs.rmSync(running, { recursive: true, force: true })
    }
  })
})
