import { execFile, spawn, type ChildProcess } from "node:child_process"
import fs from "node:fs"
import net from "node:net"
import os from "node:os"
import path from "node:path"
import { promisify } from "node:util"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "../../../packages/transport-ssh/test/harness/hosts.js"
import { repo, skyward } from "./cli.js"
import { numpyPipOptions, pipOptions } from "./loky.js"

const exec = promisify(execFile)
const python = path.join(repo, ".venv/bin/python")
const noHosts = sshdUnavailable() ?? netnsUnavailable()

// Every task reads the data at /data itself: the same script for a folder of this machine on local
// nodes and for S3 on namespace hosts (the nodes fetch it from the S3 emulator, not from the client).
const SCRIPT = `
import numpy as np
from joblib import Parallel, delayed

def part(i):
    X = np.load("/data/X.npy")
    return float(X[i::4].sum())

parts = Parallel(n_jobs=-1)(delayed(part)(i) for i in range(4))
print("result:", round(sum(parts), 3))
`

/** Roughly 4 MiB of data, and what the script must print for it. */
const makeData = async (dir: string): Promise<{ bytes: number; expected: string }> => {
  fs.mkdirSync(path.join(dir, "data"), { recursive: true })
  const { stdout } = await exec(
    python,
    ["-c", "import numpy as np; X = np.random.default_rng(7).random(512 * 1024); np.save('data/X.npy', X); print(round(float(X.sum()), 3))"],
    { cwd: dir, encoding: "utf8" }
  )
  return { bytes: fs.statSync(path.join(dir, "data/X.npy")).size, expected: `result: ${stdout.trim()}` }
}

interface Traffic {
  readonly sentBytes: number
  readonly receivedBytes: number
}

const trafficOf = (stderr: string): Traffic =>
  stderr
    .split("\n")
    .filter((line) => line.startsWith("{"))
    .map((line) => JSON.parse(line) as Traffic & { _tag: string })
    .find((event) => event._tag === "RunTraffic")!

const freePort = (host: string) =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer().listen(0, host, () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
    server.on("error", reject)
  })

const waitForPort = async (host: string, port: number) => {
  for (let i = 0; i < 100; i++) {
    const open = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, host, () => socket.end(() => resolve(true)))
      socket.on("error", () => resolve(false))
    })
    if (open) return
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  throw new Error(`nothing listens on ${host}:${port}`)
}

describe("volumes: the same script reads /data in its tasks", () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-volumes-"))
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }))

  it("--volume ./data:/data on local nodes: the nodes read the folder in place; the client sends none of it", async () => {
    const { bytes, expected } = await makeData(dir)
    fs.writeFileSync(path.join(dir, "sum.py"), SCRIPT)
    // the working directory without the data: only the volume brings it
    fs.writeFileSync(path.join(dir, ".skywardignore"), "data/\n")
    const run = await skyward(["run", "--json", "--nodes", "2", "--concurrency", "2", ...pipOptions, "--volume", "./data:/data", "sum.py"], { cwd: dir })
    expect(run.code, run.stderr.slice(-3000)).toBe(0)
    expect(run.stdout.trim()).toBe(expected)
    expect(trafficOf(run.stderr).sentBytes).toBeLessThan(bytes / 4)

    fs.writeFileSync(path.join(dir, "write.py"), "from joblib import Parallel, delayed\nParallel(n_jobs=2)(delayed(open)('/data/new.txt', 'w') for _ in range(2))\n")
    const readOnly = await skyward(["run", "--quiet", "--nodes", "1", ...pipOptions, "--volume", "./data:/data", "write.py"], { cwd: dir })
    expect(readOnly.code).toBe(1)
    expect(readOnly.stderr).toContain("volume /data is read-only")
    expect(fs.existsSync(path.join(dir, "data/new.txt"))).toBe(false)
  })

  describe.skipIf(noHosts !== undefined)("s3:// on 2 namespace hosts, from the S3 emulator", () => {
    let hosts: TestHosts
    let moto: ChildProcess | undefined
    let endpoint = ""
    const credentials = { AWS_ACCESS_KEY_ID: "testing", AWS_SECRET_ACCESS_KEY: "testing", AWS_REGION: "us-east-1", AWS_DEFAULT_REGION: "us-east-1" }

    beforeAll(async () => {
      hosts = await createHosts(2, "netns")
      // the emulator listens on this machine's side of host 0's link; every host gets a route to it
      const address = hosts.hosts[0]!.gateway!
      const port = await freePort(address)
      moto = spawn(path.join(repo, ".venv/bin/moto_server"), ["-H", address, "-p", String(port)], { stdio: "ignore" })
      await waitForPort(address, port)
      endpoint = `http://${address}:${port}`
      for (const host of hosts.hosts.slice(1)) await exec("ip", ["netns", "exec", host.netns!, "ip", "route", "add", `${address}/32`, "via", host.gateway!])
    }, 120_000)
    afterAll(async () => {
      moto?.kill("SIGKILL")
      await hosts?.teardown()
      if (hosts) expect(leftovers(hosts)).toEqual([])
    })

    it("--volume s3://bucket/prefix:/data: every node fetches the data itself (the client sends none of it); a missing prefix stops the run before any task", async () => {
      const { bytes, expected } = await makeData(dir)
      fs.writeFileSync(path.join(dir, "sum.py"), SCRIPT)
      const env = { ...process.env, ...credentials, AWS_ENDPOINT_URL_S3: endpoint, VIRTUAL_ENV: "" }
      await exec(
        python,
        ["-c", "import boto3; s3 = boto3.client('s3'); s3.create_bucket(Bucket='skyward-data'); s3.upload_file('data/X.npy', 'skyward-data', 'sets/X.npy')"],
        { cwd: dir, env }
      )
      const list = hosts.hosts.map((h) => `${h.user}@${h.address}:${h.port}`).join(",")
      const shape = ["--provider", "ssh", "--hosts", list, "--identity", hosts.keys.ed25519.file, "--known-hosts", hosts.knownHostsFile, "--concurrency", "2", ...numpyPipOptions]
      const run = await skyward(["run", "--json", ...shape, "--volume", "s3://skyward-data/sets:/data", "sum.py"], { cwd: dir, env })
      expect(run.code, run.stderr.slice(-3000)).toBe(0)
      expect(run.stdout.trim()).toBe(expected)
      expect(trafficOf(run.stderr).sentBytes).toBeLessThan(bytes / 4)
      const fetched = run.stderr.split("\n").filter((l) => l.includes("volume /data: s3://skyward-data/sets"))
      expect(fetched.length).toBeGreaterThanOrEqual(2)

      const missing = await skyward(["run", "--quiet", ...shape, "--volume", "s3://skyward-data/nothing-here:/data", "sum.py"], { cwd: dir, env })
      expect(missing.code).toBe(2)
      expect(missing.stderr).toContain("nothing under s3://skyward-data/nothing-here")
    })
  })
})
