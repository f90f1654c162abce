// Security: the bridge's private directory and token (checked from other processes and another
// user), no source path that accepts an unknown SSH host key, no test that hands another user a
// file inside the checkout (which may live in a private folder), and no secret in any output of a
// run that fails.
import { execFile } from "node:child_process"
import fs from "node:fs"
import path from "node:path"
import { promisify } from "node:util"
import { encodeFrame } from "@skyward/codec"
import { ComputePool } from "@skyward/core"
import { joblib } from "@skyward/plugin-joblib"
import { afterEach, describe, expect, it } from "vitest"
import {
  closedToOthers,
  entriesOf,
  fixtures,
  leftoversOf,
  OTHER_UID,
  otherUserUnavailable,
  repo,
  report,
  runAsOtherUser,
  runCli,
  sharedTempDir,
  tempDir,
  venvPython,
  type CliRun
} from "./support.js"

const run = promisify(execFile)
let runs: CliRun[] = []
afterEach(() => {
  for (const r of runs) r.kill()
  runs = []
})

describe("the client bridge", () => {
  it("lives in a 0700 directory; clients without the token (another process, another user) are refused", async () => {
    // the bridge goes under a folder other users can pass through, so that only its own 0700
    // directory can stop them (not this file's private TMPDIR above it)
    const shared = sharedTempDir("skyward-bridge-test")
    const parentTmp = process.env.TMPDIR
    process.env.TMPDIR = shared
    try {
      await ComputePool.use({ nodes: 1, worker: { concurrency: 1 }, plugins: [joblib()] }, async (pool) => {
        const { SKYWARD_BRIDGE: socket, SKYWARD_TOKEN: token } = pool.client.env as Record<string, string>
        const dir = path.dirname(socket!)
        expect(path.dirname(dir)).toBe(shared)
        expect(fs.statSync(dir).mode & 0o777).toBe(0o700)
        expect(fs.statSync(socket!).mode & 0o777).toBe(0o600)
        const client = path.join(fixtures, "bridge-client.mjs")
        // another process of this user, without the token / with a wrong one: closed
        for (const [mode, given] of [["notoken", ""], ["hello", "0".repeat(64)], ["hello", token!.slice(0, 63) + "x"]] as const) {
          const { stdout } = await run(process.execPath, [client, socket!, mode, given], { timeout: 30_000 })
          expect(stdout.trim().split("\n"), mode).toEqual(["CLOSED"])
        }
        // the real Python client, wrong token: a clear BridgeError
        const python = await run(venvPython, ["-c", "import skyward_joblib as s\ntry:\n s.BridgeClient(__import__('os').environ['SKYWARD_BRIDGE'], 'wrong')\nexcept s.BridgeError as e: print('refused:', e)"], {
          env: { ...process.env, SKYWARD_BRIDGE: socket!, PYTHONPATH: pool.client.pythonPath.join(":") }
        })
        expect(python.stdout).toMatch(/^refused: .*closed the connection during the handshake \(wrong token or protocol\?\)/)
        // another user, even with the token, cannot reach the socket: connect() fails with EACCES
        const unavailable = otherUserUnavailable()
        let otherUser = `not run (${unavailable})`
        if (unavailable === undefined) {
          expect(closedToOthers(shared, 0o001), "the other user must be stopped by the bridge directory alone").toBeUndefined()
          const hello = Buffer.from(encodeFrame({ type: "hello", protocol: 1, role: "client", token: token! })).toString("hex")
          const answer = await runAsOtherUser(path.join(fixtures, "socket-probe.mjs"), [socket!, hello], shared)
          expect(answer).toEqual([`ERROR EACCES connect ${socket}`])
          otherUser = `EACCES on connect for uid ${OTHER_UID}, even with the token`
        }
        report({ fault: "bridge access without the token", happened: `dir 0700, socket 0600; no/wrong token: closed (node and Python clients); ${otherUser}`, correct: true, left: [] })
      })
      expect(entriesOf(shared)).toEqual([])
    } finally {
      process.env.TMPDIR = parentTmp
      fs.rmSync(shared, { recursive: true, force: true })
    }
  })
})

describe("a named pool (skyward up)", () => {
  it("keeps its state private: another user can neither list the pools, read a pool's token nor reach its bridge", async () => {
    // the state goes under a folder other users can pass through, so that only skyward's own
    // 0700 folders can stop them
    const shared = sharedTempDir("skyward-pools-test")
    const state = path.join(shared, "state")
    fs.mkdirSync(state, { mode: 0o755 })
    const env = { XDG_STATE_HOME: state }
    try {
      const up = await runCli(["up", "--name", "private", "--nodes", "1", "--concurrency", "1", "--quiet"], { env, timeoutMs: 120_000 })
      runs.push(up)
      expect(up.code, up.stderr).toBe(0)
      const pools = path.join(state, "skyward", "pools")
      const poolFile = path.join(pools, "private", "pool.json")
      expect(fs.statSync(pools).mode & 0o777).toBe(0o700)
      expect(fs.statSync(poolFile).mode & 0o777).toBe(0o600)
      const bridge = JSON.parse(fs.readFileSync(poolFile, "utf8")).connection.env.SKYWARD_BRIDGE as string
      const unavailable = otherUserUnavailable()
      let otherUser = `not run (${unavailable})`
      if (unavailable === undefined) {
        expect(closedToOthers(state, 0o001), "the other user must be stopped by skyward's folders alone").toBeUndefined()
        const answer = await runAsOtherUser(path.join(fixtures, "pool-state-probe.mjs"), [pools, poolFile, bridge], shared)
        expect(answer.map((line) => JSON.parse(line))).toEqual([{ list: "EACCES", read: "EACCES", connect: "EACCES" }])
        otherUser = `uid ${OTHER_UID}: EACCES on listing the pools, reading pool.json and connecting to the bridge`
      }
      const down = await runCli(["down", "private"], { env, timeoutMs: 60_000 })
      expect(down.code, down.stderr).toBe(0)
      report({ fault: "a named pool's state seen by another user", happened: `pools folder 0700, pool.json 0600; ${otherUser}`, correct: true, left: [] })
    } finally {
      await runCli(["down", "--all"], { env, timeoutMs: 60_000 })
      fs.rmSync(shared, { recursive: true, force: true })
    }
  })
})

/** Places in source where an SSH host key could be accepted without verification. */
export const unverifiedHostKeyPaths = (files: ReadonlyArray<{ file: string; text: string }>): string[] => {
  const found: string[] = []
  const banned: Array<[RegExp, string]> = [
    [/hostVerifier\s*:\s*(\([^)]*\)|\w+)\s*=>\s*(true|\{\s*return\s+true)/, "hostVerifier that returns true"],
    [/hostVerifier\s*:\s*(true|undefined|null)\b/, "hostVerifier set to a constant"],
    [/verify\s*\(\s*true\s*\)/, "verify(true) without a check"],
    [/StrictHostKeyChecking\s*[= ]\s*(no|off|accept-new)/i, "StrictHostKeyChecking disabled"],
    [/UserKnownHostsFile\s*[= ]\s*\/dev\/null/, "known_hosts sent to /dev/null"],
    [/trustOnFirstUse\s*(\?\?|\|\|)\s*true|trustOnFirstUse\s*=\s*true/, "trust-on-first-use on by default"]
  ]
  for (const { file, text } of files) {
    for (const [pattern, what] of banned) if (pattern.test(text)) found.push(`${file}: ${what}`)
    // every hostVerifier must decide through verifyHostKey (pinned key or known_hosts)
    for (const match of text.matchAll(/hostVerifier\s*:/g)) {
      const body = text.slice(match.index, match.index + 600)
      if (!/verifyHostKey\s*\(/.test(body)) found.push(`${file}: a hostVerifier that does not call verifyHostKey`)
    }
  }
  return found
}

describe("SSH host keys", () => {
  const sources = (): Array<{ file: string; text: string }> =>
    ["packages", "apps"].flatMap((top) =>
      fs.readdirSync(path.join(repo, top)).flatMap((name) => {
        const src = path.join(repo, top, name, "src")
        if (!fs.existsSync(src)) return []
        return (fs.readdirSync(src, { recursive: true, encoding: "utf8" }) as string[])
          .filter((f) => /\.(ts|mts|js|mjs|cjs)$/.test(f))
          .map((f) => ({ file: path.join(top, name, "src", f), text: fs.readFileSync(path.join(src, f), "utf8") }))
      })
    )

  it("the detector finds the patterns it is meant to find", () => {
    const bad = [
      "const c = { hostVerifier: () => true }",
      "hostVerifier: (key) => { return true }",
      "hostVerifier: (key, verify) => verify(true)",
      "spawn('ssh', ['-o', 'StrictHostKeyChecking=no'])",
      "args.push('-o', 'UserKnownHostsFile=/dev/null')",
      "trustOnFirstUse: options.trustOnFirstUse ?? true"
    ]
    for (const text of bad) expect(unverifiedHostKeyPaths([{ file: "x.ts", text }]), text).not.toEqual([])
    expect(unverifiedHostKeyPaths([{ file: "ok.ts", text: "hostVerifier: (k, verify) => { Effect.runPromise(verifyHostKey(h, p, k, policy)).then((r) => verify(r)) }" }])).toEqual([])
  })

  it("no source file (packages/*/src, apps/*/src) accepts an unknown host key silently", () => {
    const files = sources()
    expect(files.length).toBeGreaterThan(20)
    const found = unverifiedHostKeyPaths(files)
    report({ fault: "source grep: SSH paths accepting unknown host keys", happened: `${files.length} source files scanned; ${found.length === 0 ? "none found (the one hostVerifier calls verifyHostKey)" : found.join("; ")}`, correct: found.length === 0, left: [] })
    expect(found).toEqual([])
  })
})

const EXAMPLE = "// a detector example"

/**
 * Lines (`file:line`) of test files that run something as another user: a command that switches
 * user, or a uid switch in code. Lines ending with `// a detector example` are skipped.
 */
export const userSwitches = (files: ReadonlyArray<{ file: string; text: string }>): string[] => {
  const patterns = [
    /["'`](?:\/usr)?(?:\/s?bin\/)?(?:setpriv|runuser|sudo|su)(?=["'`\s])/, // a command name in a string
    /\b(?:os|process)\.set(?:e|re|res)?[ug]id\s*\(/, // a uid switch in code
    /\b[ug]id\s*:\s*\d/ // spawn's uid / gid options
  ]
  return files.flatMap(({ file, text }) =>
    text.split("\n").flatMap((line, i) => (!line.trimEnd().endsWith(EXAMPLE) && patterns.some((p) => p.test(line)) ? [`${file}:${i + 1}`] : []))
  )
}

describe("tests that run something as another user", () => {
  // every test file of the workspace, TypeScript/JavaScript, Python and shell
  const testFiles = (): Array<{ file: string; text: string }> =>
    ["packages", "apps"].flatMap((top) =>
      fs.readdirSync(path.join(repo, top)).flatMap((name) =>
        ["test", "python/tests"].flatMap((sub) => {
          const dir = path.join(repo, top, name, sub)
          if (!fs.existsSync(dir)) return []
          return (fs.readdirSync(dir, { recursive: true, encoding: "utf8" }) as string[])
            .filter((f) => /\.(ts|mts|js|mjs|cjs|py|sh)$/.test(f) && !f.split(path.sep).includes("node_modules"))
            .map((f) => ({ file: path.join(top, name, sub, f), text: fs.readFileSync(path.join(dir, f), "utf8") }))
        })
      )
    )

  it("the detector finds the user switches it is meant to find", () => {
    const bad = [
      'execFile("setpriv", ["--reuid=65534", "node", "x.mjs"])', // a detector example
      "spawn('/usr/sbin/runuser', ['-u', 'nobody', 'ls'])", // a detector example
      "sh -c `sudo -u nobody ls`", // a detector example
      "subprocess.run(['su', 'nobody'])", // a detector example
      "os.setuid(65534)", // a detector example
      "spawn(cmd, args, { uid: 65534, gid: 65534 })" // a detector example
    ]
    for (const text of bad) expect(userSwitches([{ file: "x", text }]), text).toEqual(["x:1"])
    expect(userSwitches([{ file: "ok", text: "const user = `sky${tag}u${index}`\nprocessesOf(uid: number) // setpriv is used by support.ts" }])).toEqual([])
    expect(userSwitches([{ file: "x", text: `os.setuid(0) ${EXAMPLE}` }])).toEqual([]) // a detector example
  })

  it("go through runAsOtherUser, which runs a copy outside the checkout (the checkout may be private)", () => {
    const files = testFiles()
    expect(files.length).toBeGreaterThan(50)
    // the one place allowed to switch user: the helper, which refuses anything inside the checkout
    const helper = path.join("packages", "fault-tests", "test", "support.ts")
    const found = userSwitches(files)
    expect(found.filter((at) => !at.startsWith(`${helper}:`))).toEqual([])
    expect(found.length, "the detector no longer sees the helper's own setpriv call").toBeGreaterThan(0)
  })
})

describe("canary secrets", () => {
  it("never appear in events, logs, errors or --json output of a run that fails", async () => {
    const canaries = {
      AWS_ACCESS_KEY_ID: "AKIAFAULTCANARY4242X",
      AWS_SECRET_ACCESS_KEY: "fAuLtCaNaRy/SeCrEt/kEy+0123456789abcdefXYZ",
      AWS_SESSION_TOKEN: "FaultCanarySessionToken4242zzzz"
    }
    const tokenFile = path.join(tempDir("token"), "token")
    const result = await runCli(["run", "--json", "--nodes", "2", "--concurrency", "1", "--plugin", "joblib", path.join(fixtures, "canary.py"), tokenFile], {
      env: { ...canaries, AWS_REGION: "eu-west-1" }
    })
    runs.push(result)
    expect(result.code, result.stderr.slice(-2000)).toBe(1) // the script failed, as planned
    expect(result.stderr).toMatch(/ValueError: planned failure/)
    const token = fs.readFileSync(tokenFile, "utf8").trim()
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    const output = result.stdout + result.stderr
    const secrets = { ...canaries, SKYWARD_TOKEN: token }
    const leaked = Object.entries(secrets).filter(([, value]) => output.includes(value) || output.includes(value.slice(0, 16)))
    const left = await leftoversOf(result)
    report({ fault: "canary secrets (AWS keys in env, bridge token) across a failing `skyward run --json`", happened: `${output.length} bytes of output scanned; leaked: ${leaked.map(([k]) => k).join(", ") || "nothing"}`, correct: leaked.length === 0, left })
    expect(leaked).toEqual([])
    expect(left).toEqual([])
  })
})
