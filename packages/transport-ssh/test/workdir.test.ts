import { randomBytes } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { snapshotWorkdir } from "@skyward/core"
import type { BootstrapResult, WorkdirSnapshot } from "@skyward/contracts"
import { Effect, Either } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { agentCommand, agentTmpDir } from "../src/internal/agent-channel.js"
import { createHosts, leftovers, sshdUnavailable, type TestHosts } from "./harness/hosts.js"
import { filesUnder, forgetSnapshot, nodeOn, planOf, testTransport } from "./harness/sessions.js"

const noSshd = sshdUnavailable()
if (noSshd) console.warn(`skipping the SSH working-directory tests: ${noSshd}`)

describe("the agent's temporary folder", () => {
  it("sits beside the work folder, or in /tmp when a socket path in it would be too long", () => {
    const work = "/home/ada/.cache/skyward/work/node0-0123456789ab"
    expect(agentTmpDir(work)).toBe(`${work}.tmp`)
    expect(agentCommand({ python: "/env/bin/python", pythonPath: [], workDir: work, args: [], env: {} })).toContain(`mkdir -p -m 700 ${work}.tmp`)
    const deep = `/home/${"a".repeat(40)}/.cache/skyward/work/node0-0123456789ab`
    expect(agentTmpDir(deep)).toBe("/tmp/skyward-agent-node0-0123456789ab")
  })
})

describe.skipIf(noSshd !== undefined)("the working directory over ssh (a loopback host)", () => {
  let hosts: TestHosts
  let project: string
  let imageConfig: string
  // short, so that the agent's temporary folder fits beside the work folder (see agentTmpDir)
  const remoteRoot = `/tmp/skw-${randomBytes(4).toString("hex")}`
  const store = path.join(remoteRoot, "files")
  const sent: number[] = []

  const write = (relative: string, content: string, mode = 0o644) => {
    const file = path.join(project, relative)
    fs.mkdirSync(path.dirname(file), { recursive: true })
    fs.writeFileSync(file, content)
    fs.chmodSync(file, mode)
  }
  const snapshot = () => Effect.runPromise(snapshotWorkdir(project))
  const hashOf = (snap: WorkdirSnapshot, relative: string) => snap.files.find((f) => f.path === relative)!.hash
  /** Bootstraps node 0 with the working directory `workdir`, then runs `inside` while its session is open. */
  const bootstrapped = <A>(workdir: WorkdirSnapshot, inside: (boot: BootstrapResult) => A) =>
    Effect.runPromise(
      Effect.either(
        Effect.scoped(
          Effect.gen(function* () {
            const session = yield* testTransport({ remoteRoot }).connect(nodeOn(hosts, 0))
            const boot = yield* session.bootstrap(planOf({ files: { "config.txt": imageConfig } }, { workdir }), () => undefined)
            return inside(boot)
          })
        )
      )
    )

  beforeAll(async () => {
    hosts = await createHosts(1, "loopback")
    project = fs.mkdtempSync(path.join(hosts.dir, "project-"))
    imageConfig = path.join(hosts.dir, "image-config.txt")
    fs.writeFileSync(imageConfig, "from the image\n")
    write("main.py", "print('main')\n")
    write("copy-of-main.py", "print('main')\n")
    write("run.sh", "#!/bin/sh\necho run\n", 0o755)
    write("config.txt", "from the project\n")
    write("pkg/__init__.py", "X = 1\n")
    write("pkg/sub/data.csv", `a,b\n${randomBytes(64).toString("hex")},2\n`)
    write("pkg/sub/empty.txt", "")
    write(".git/HEAD", "ref: refs/heads/main\n") // left out by default
    write("__pycache__/main.cpython-311.pyc", "bytecode")
  })
  afterAll(async () => {
    if (project) forgetSnapshot(project)
    fs.rmSync(remoteRoot, { recursive: true, force: true })
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("makes the agent's current directory from it: nested folders, executable bits, the Image's files on top, nothing else", async () => {
    const snap = await snapshot()
    const paths = ["config.txt", "copy-of-main.py", "main.py", "pkg/__init__.py", "pkg/sub/data.csv", "pkg/sub/empty.txt", "run.sh"]
    expect(snap.files.map((f) => f.path).sort()).toEqual(paths)
    const seen = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* testTransport({ remoteRoot }).connect(nodeOn(hosts, 0))
          const boot = yield* session.bootstrap(planOf({ files: { "config.txt": imageConfig } }, { workdir: snap }), () => undefined)
          const channel = yield* session.startAgent({ python: boot.python, pythonPath: boot.pythonPath, workDir: boot.workDir, args: ["--node-index", "0", "--node-count", "1"], env: {} })
          // its hello: the agent runs, in its work folder, with its temporary folder made
          yield* Effect.async<void>((resume) => channel.onData(() => resume(Effect.void)))
          const at = (relative: string) => path.join(boot.workDir, relative)
          return {
            boot,
            files: filesUnder(boot.workDir),
            tmpBeside: fs.existsSync(agentTmpDir(boot.workDir)) && agentTmpDir(boot.workDir) === `${boot.workDir}.tmp`,
            executable: paths.filter((p) => (fs.statSync(at(p)).mode & 0o111) !== 0),
            contents: Object.fromEntries(paths.map((p) => [p, fs.readFileSync(at(p), "utf8")])),
            // a copy, not a link into the store: a task that writes into its file leaves the store alone
            sharesStore: fs.statSync(at("main.py")).ino === fs.statSync(path.join(store, hashOf(snap, "main.py"))).ino
          }
        })
      )
    )
    expect(seen.files).toEqual(paths)
    expect(seen.tmpBeside).toBe(true)
    expect(seen.executable).toEqual(["run.sh"])
    expect(seen.contents["config.txt"]).toBe("from the image\n")
    for (const p of paths.filter((p) => p !== "config.txt")) expect(seen.contents[p], p).toBe(fs.readFileSync(path.join(project, p), "utf8"))
    expect(seen.sharesStore).toBe(false)
    // main.py and its copy are one content: it crosses once
    const mainSize = fs.statSync(path.join(project, "main.py")).size
    expect(seen.boot.workdir).toEqual({ files: 7, bytes: snap.bytes, sentFiles: 6, sentBytes: snap.bytes - mainSize })
    sent.push(seen.boot.workdir!.sentBytes)
    for (const file of snap.files) expect(fs.existsSync(path.join(store, file.hash)), file.path).toBe(true)
    // what the host keeps of the project is the login's alone
    expect(fs.statSync(remoteRoot).mode & 0o777).toBe(0o700)
    // the work folder and the agent's temporary folder go with the session; the store stays
    expect(fs.existsSync(seen.boot.workDir)).toBe(false)
    expect(fs.existsSync(`${seen.boot.workDir}.tmp`)).toBe(false)
    expect(fs.readdirSync(path.join(remoteRoot, "work"))).toEqual([])
  })

  it("sends nothing the host has: the same folder again crosses with 0 bytes, a changed file alone", async () => {
    const again = Either.getOrThrow(await bootstrapped(await snapshot(), (boot) => boot.workdir))
    expect(again).toMatchObject({ files: 7, sentFiles: 0, sentBytes: 0 })
    sent.push(again!.sentBytes)

    write("pkg/sub/data.csv", `a,b\n${randomBytes(64).toString("hex")},3\nmore\n`)
    const changed = await snapshot()
    const after = Either.getOrThrow(await bootstrapped(changed, (boot) => ({ shipped: boot.workdir, data: fs.readFileSync(path.join(boot.workDir, "pkg/sub/data.csv"), "utf8") })))
    const size = fs.statSync(path.join(project, "pkg/sub/data.csv")).size
    expect(after.shipped).toMatchObject({ files: 7, sentFiles: 1, sentBytes: size })
    expect(after.data).toBe(fs.readFileSync(path.join(project, "pkg/sub/data.csv"), "utf8"))
    sent.push(after.shipped!.sentBytes)
    console.info(`working directory of 7 files (${changed.bytes} B) to one host: sent ${sent[0]} B, then ${sent[1]} B unchanged, then ${sent[2]} B after one file changed`)
  })

  it("refuses a file that changed while it was being sent, and keeps its content out of the store", async () => {
    write("pkg/sub/data.csv", `a,b\n${randomBytes(64).toString("hex")},4\n`)
    const snap = await snapshot()
    const promised = hashOf(snap, "pkg/sub/data.csv")
    // edited after the snapshot, before it is read for sending: what crosses is not what was hashed
    write("pkg/sub/data.csv", `a,b\n${randomBytes(64).toString("hex")},5\nedited\n`)
    const error = Either.flip(await bootstrapped(snap, () => undefined)).pipe(Either.getOrThrow)
    expect(error).toMatchObject({ _tag: "BootstrapError", node: 0, message: `${path.join(project, "pkg/sub/data.csv")} changed while it was being sent; run again` })
    expect(fs.existsSync(path.join(store, promised))).toBe(false)
    expect(fs.readdirSync(path.join(remoteRoot, "work"))).toEqual([])

    // run again: the folder as it is now
    const retried = Either.getOrThrow(await bootstrapped(await snapshot(), (boot) => boot.workdir))
    expect(retried).toMatchObject({ sentFiles: 1 })
  })
})
