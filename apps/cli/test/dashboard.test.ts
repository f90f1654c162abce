import { spawn } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { describe, expect, it } from "vitest"
import { bin } from "./cli.js"

// the page itself (nodes, counts, failures, a lost node) is tested in a browser: packages/dashboard/test
const SCRIPT = `
import time
from joblib import Parallel, delayed

def one(i):
    time.sleep(0.1)
    return 1

print(sum(Parallel(n_jobs=-1)(delayed(one)(i) for i in range(40))), flush=True)
time.sleep(2)  # the test looks at the dashboard meanwhile
`

const freePort = () =>
  new Promise<number>((resolve) => {
    const server = net.createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

describe("skyward run --dashboard", () => {
  it("serves the run's dashboard on 127.0.0.1 at --dashboard-port, behind its token, for as long as the run lasts", async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-run-dashboard-"))
    try {
      fs.writeFileSync(path.join(dir, "script.py"), SCRIPT)
      const port = await freePort()
      const child = spawn(process.execPath, [bin, "run", "--nodes", "2", "--concurrency", "2", "--plugin", "joblib", "--dashboard", "--dashboard-port", String(port), "script.py"], {
        cwd: dir,
        env: { ...process.env, VIRTUAL_ENV: "" },
        stdio: ["ignore", "pipe", "pipe"]
      })
      let stderr = ""
      let stdout = ""
      child.stdout.on("data", (chunk) => (stdout += chunk))
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on("data", (chunk) => {
          stderr += chunk
          const found = /dashboard of this run: (\S+)/.exec(stderr)
          if (found) resolve(found[1]!)
        })
        child.on("exit", () => reject(new Error(`no dashboard URL before the run ended:\n${stderr}`)))
      })
      expect(url).toMatch(new RegExp(`^http://127\\.0\\.0\\.1:${port}/\\?token=[\\w-]{20,}$`))
      expect((await fetch(url)).status).toBe(200)
      expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(403)
      const code = await new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.on("exit", resolve)))
      expect(code, stderr).toBe(0)
      expect(stdout).toContain("40")
      await expect(fetch(url)).rejects.toThrow() // gone with the run
    } finally {
      fs.rmSync(dir, { recursive: true, force: true })
    }
  })
})
