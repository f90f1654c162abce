// Issue 24, item 10: an Image's variables (`--env`, `image.env`) and an index URL's password reach
// pip, the plugins' bootstrap commands and the tasks, yet never appear on a command line (any user
// of a machine can read those: `ps`) nor in a file Skyward writes.
import { randomBytes } from "node:crypto"
import { execFileSync } from "node:child_process"
import fs from "node:fs"
import http from "node:http"
import type { AddressInfo } from "node:net"
import path from "node:path"
import { ComputePool } from "@skyward/core"
import { cacheRoot } from "@skyward/host"
import type { Plugin, PoolOptionsInput } from "@skyward/contracts"
import { ssh } from "@skyward/provider-ssh"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { createHosts, leftovers, netnsUnavailable, sshdUnavailable, type TestHosts } from "../../transport-ssh/test/harness/hosts.js"
import { fixtures, pids, report } from "./support.js"

const VARIABLE = "SKYWARD_TEST_SECRET"

/** A fresh secret for one test: a variable's value and an index password. */
const secrets = () => ({ value: `envsecret${randomBytes(8).toString("hex")}`, password: `indexpw${randomBytes(8).toString("hex")}` })

/**
 * A package index on loopback that knows no package (404) and notes the credentials it was sent:
 * pip looks there too, and finds everything on PyPI.
 */
const startIndex = async () => {
  const authorizations: string[] = []
  const server = http.createServer((request, response) => {
    authorizations.push(request.headers.authorization ?? "")
    response.writeHead(404).end()
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as AddressInfo).port
  return {
    url: (password: string) => `http://skyward:${password}@127.0.0.1:${port}/simple`,
    sawPassword: (password: string) => authorizations.includes(`Basic ${Buffer.from(`skyward:${password}`).toString("base64")}`),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()))
  }
}

/** Every command line on this machine (network-namespace hosts share its processes), read every 20 ms while `use` runs. */
const watchCommandLines = async <A>(needles: ReadonlyArray<string>, use: () => Promise<A>): Promise<{ value: A; seen: string[] }> => {
  const seen = new Set<string>()
  const look = () => {
    for (const pid of pids()) {
      const line = (() => {
        try {
          return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " ")
        } catch {
          return ""
        }
      })()
      if (needles.some((needle) => line.includes(needle))) seen.add(line.slice(0, 300))
    }
  }
  const timer = setInterval(look, 20)
  try {
    return { value: await use(), seen: [...seen] }
  } finally {
    clearInterval(timer)
    look()
  }
}

/** Files under `dir` that hold any of `needles` (grep, which skips none). */
const filesHolding = (dir: string, needles: ReadonlyArray<string>): string[] => {
  if (!fs.existsSync(dir)) return []
  try {
    return execFileSync("grep", ["-rlF", ...needles.flatMap((n) => ["-e", n]), dir], { encoding: "utf8" }).split("\n").filter(Boolean)
  } catch {
    return [] // grep exits 1 when nothing matches
  }
}

/** A plugin whose bootstrap command fails unless the variable reached it. */
const needsVariable: Plugin = { name: "needs-variable", bootstrap: () => [`test -n "$${VARIABLE}" || { echo "${VARIABLE} is not set" >&2; exit 7; }`] }

/** The Image of these tests: a variable, an index with a password, the task module. */
const imageOf = (value: string, indexUrl: string): NonNullable<PoolOptionsInput["image"]> => ({
  env: { [VARIABLE]: value },
  pipIndexes: [indexUrl],
  files: { "secret_funcs.py": path.join(fixtures, "secret_funcs.py") }
})

let index: Awaited<ReturnType<typeof startIndex>>
beforeAll(async () => {
  index = await startIndex()
})
afterAll(() => index?.close())

/** Runs `options`' pool: two tasks read the variable; gives what they read and the command lines that showed a secret. */
const runPool = (options: PoolOptionsInput, needles: ReadonlyArray<string>) =>
  watchCommandLines(needles, () => ComputePool.use(options, (pool) => pool.map<string>("secret_funcs:env_value", [VARIABLE, VARIABLE])))

describe("secrets stay off command lines and out of files", () => {
  it("local nodes: the variable reaches the bootstrap command and the tasks, the password reaches the index; neither is on a command line or in Skyward's cache", async () => {
    const { value, password } = secrets()
    const cache = cacheRoot()
    const started = Date.now()
    const { value: read, seen } = await runPool({ nodes: 1, worker: { concurrency: 2 }, image: imageOf(value, index.url(password)), plugins: [needsVariable] }, [value, password])
    const files = filesHolding(cache, [value, password])
    report({ fault: "an env value and an index password (local)", happened: `command lines showing them: ${seen.length}; files holding them: ${files.length}`, correct: seen.length === 0 && files.length === 0, left: [] })
    expect(read).toEqual([value, value])
    expect(index.sawPassword(password)).toBe(true)
    expect(seen).toEqual([])
    expect(files).toEqual([])
    const fresh = fs.readdirSync(path.join(cache, "envs")).map((name) => path.join(cache, "envs", name, ".skyward-ready")).filter((m) => fs.existsSync(m) && fs.statSync(m).mtimeMs >= started)
    expect(fresh).toHaveLength(1)
    expect(fs.statSync(fresh[0]!).mode & 0o777).toBe(0o600)
    for (const marker of fresh) fs.rmSync(path.dirname(marker), { recursive: true, force: true }) // an environment of this test's index alone
  })
})

const sshUnavailable = sshdUnavailable() ?? netnsUnavailable()
describe.skipIf(sshUnavailable !== undefined)("secrets over SSH (a network-namespace host)", () => {
  let hosts: TestHosts
  beforeAll(async () => {
    // the host's user must reach its keys: made under /tmp, not under this file's private 0700 TMPDIR
    const tmp = process.env.TMPDIR
    process.env.TMPDIR = "/tmp"
    try {
      hosts = await createHosts(1, "netns")
    } finally {
      process.env.TMPDIR = tmp
    }
  })
  afterAll(async () => {
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("the variable reaches the bootstrap command and the tasks, the password the client's pip; neither is on a command line of the client or the host, nor in a file on either", async () => {
    const { value, password } = secrets()
    const host = hosts.hosts[0]!
    const options: PoolOptionsInput = {
      provider: ssh({ hosts: [{ host: host.address, port: host.port, user: host.user, hostKey: host.hostKey }], key: hosts.keys.ed25519.file, knownHostsFiles: [], connectTimeout: 10 }),
      nodes: 1,
      worker: { concurrency: 2 },
      image: imageOf(value, index.url(password)),
      plugins: [needsVariable]
    }
    const { value: read, seen } = await runPool(options, [value, password])
    const files = [...filesHolding(host.home, [value, password]), ...filesHolding(cacheRoot(), [value, password])]
    report({ fault: "an env value and an index password (SSH)", happened: `command lines showing them: ${seen.length}; files holding them: ${files.length}`, correct: seen.length === 0 && files.length === 0, left: [] })
    expect(read).toEqual([value, value])
    expect(index.sawPassword(password)).toBe(true)
    expect(seen).toEqual([])
    expect(files).toEqual([])
  })
})
