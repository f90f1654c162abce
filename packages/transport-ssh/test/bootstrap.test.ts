import fs from "node:fs"
import path from "node:path"
import { codecModules } from "@skyward/codec"
import { type BootstrapPlan, imageHash, type ImageInput, ImageSchema, type NodeInfo } from "@skyward/contracts"
import { agentModules } from "@skyward/worker"
import { Effect, Either, Schema } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import type { SshTransportOptions } from "../src/index.js"
import { makeSshTransport } from "../src/internal/transport.js"
import { agentProcesses, createHosts, leftovers, sshdUnavailable, type TestHosts } from "./harness/hosts.js"

const noSshd = sshdUnavailable()
if (noSshd) console.warn(`skipping SSH bootstrap tests: ${noSshd}`)

// host 1's python3 claims to be 3.8; host 2's has no venv module (both real interpreters, patched)
const FAKE_PYTHONS: Record<number, string> = {
  1: `import sys; sys.version_info = (3, 8, 10, "final", 0); exec(sys.stdin.read())`,
  2: `import sys; sys.modules["venv"] = None; exec(sys.stdin.read())`
}

const plan = (input: ImageInput = {}, ops: string[] = []): BootstrapPlan => {
  const image = Schema.decodeSync(ImageSchema)(input)
  return { image, imageHash: imageHash(image), ops, modules: [agentModules(), codecModules()] }
}

describe.skipIf(noSshd !== undefined)("bootstrap over ssh (loopback hosts)", () => {
  let hosts: TestHosts
  const node = (i: number): NodeInfo => {
    const h = hosts.hosts[i]!
    return { index: i, address: h.address, data: { ssh: { host: h.address, port: h.port, user: h.user, key: hosts.keys.ed25519.file, hostKey: h.hostKey } } }
  }
  const transport = (options: SshTransportOptions = {}) => makeSshTransport({ knownHostsFiles: [], connectTimeout: 10, ...options })
  const bootstrap = (i: number, p: BootstrapPlan, options: SshTransportOptions = {}, lines: string[] = []) =>
    Effect.runPromise(
      Effect.either(Effect.scoped(Effect.flatMap(transport(options).connect(node(i)), (session) => session.bootstrap(p, (line) => lines.push(line)))))
    )

  beforeAll(async () => {
    hosts = await createHosts(3, "loopback", {
      sshdConfig: ({ index, dir }) => {
        const source = FAKE_PYTHONS[index]
        if (source === undefined) return []
        const bin = path.join(dir, "bin")
        fs.mkdirSync(bin, { recursive: true, mode: 0o755 })
        fs.writeFileSync(path.join(bin, "python3"), `#!/bin/sh\nshift\nexec /usr/bin/python3 -c '${source}' "$@"\n`, { mode: 0o755 })
        return [`SetEnv PATH=${bin}:/usr/local/bin:/usr/bin:/bin`]
      }
    })
  })
  afterAll(async () => {
    if (!hosts) return
    await hosts.teardown()
    expect(leftovers(hosts)).toEqual([])
  })

  it("builds the environment once even when two pools bootstrap the host together, then reuses it", async () => {
    const funcs = path.join(hosts.dir, "shipped.txt")
    fs.writeFileSync(funcs, "shipped with the image\n")
    const p = plan({ files: { "data/shipped.txt": funcs }, env: { SKYTEST: "from-image" } }, [
      `echo "op python: $(command -v python)"`,
      `echo "op env: $SKYTEST"`,
      `cat data/shipped.txt`,
      "pip --version"
    ])
    const lines: string[][] = [[], []]
    const [a, b] = await Promise.all([bootstrap(0, p, {}, lines[0]), bootstrap(0, p, {}, lines[1])])
    const results = [Either.getOrThrow(a), Either.getOrThrow(b)]
    expect(results.map((r) => r.cached).sort()).toEqual([false, true])
    const home = hosts.hosts[0]!.home
    for (const [i, r] of results.entries()) {
      expect(r.python).toMatch(new RegExp(`^${home}/\\.cache/skyward/envs/${p.imageHash}-cp3\\d+/bin/python$`))
      expect(r.pythonPath).toHaveLength(2)
      expect(r.pythonPath[0]).toMatch(/\/\.cache\/skyward\/modules\/[0-9a-f]{16}\/skyward_worker$/)
      expect(lines[i]).toContain(`op python: ${r.python}`)
      expect(lines[i]).toContain("op env: from-image")
      expect(lines[i]).toContain("shipped with the image")
      // the environment's pip runs the wheel the client compiled for the host's Python: no node compiles pip
      expect(lines[i]!.some((l) => /^pip \S+ from .*\/\.cache\/skyward\/wheels\/pip-\S+\.cp3\d+-bytecode\.zip\/pip /.test(l))).toBe(true)
    }
    expect(fs.existsSync(path.join(home, ".cache/skyward/modules"))).toBe(true)
    expect(fs.readdirSync(path.join(home, ".cache/skyward/wheels")).some((f) => f.startsWith("cloudpickle-"))).toBe(true)
    // the work folders are removed with their sessions
    expect(fs.readdirSync(path.join(home, ".cache/skyward/work"))).toEqual([])

    const started = Date.now()
    const again = Either.getOrThrow(await bootstrap(0, p))
    expect(again.cached).toBe(true)
    console.info(`warm bootstrap of one loopback host: ${((Date.now() - started) / 1000).toFixed(2)} s`)
  })

  it("starts the agent on an exec channel, receives its hello, and stops it with the scope", async () => {
    const p = plan()
    const bytes = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* transport().connect(node(0))
          const boot = yield* session.bootstrap(p, () => undefined)
          const channel = yield* session.startAgent({ python: boot.python, pythonPath: boot.pythonPath, workDir: boot.workDir, args: ["--node-index", "0", "--node-count", "1"], env: {} })
          const first = yield* Effect.async<number>((resume) => channel.onData((chunk) => resume(Effect.succeed(chunk.length))))
          expect(agentProcesses(hosts.hosts[0]!).length).toBeGreaterThan(0)
          return first
        })
      )
    )
    expect(bytes).toBeGreaterThan(4)
    const until = Date.now() + 10_000
    while (agentProcesses(hosts.hosts[0]!).length > 0 && Date.now() < until) await new Promise((r) => setTimeout(r, 100))
    expect(agentProcesses(hosts.hosts[0]!)).toEqual([])
  })

  it("uploads a file and a folder into the work folder after bootstrap, refuses a target outside it, and removes them with the session", async () => {
    const src = path.join(hosts.dir, "upload-src")
    fs.mkdirSync(path.join(src, "pkg", "sub"), { recursive: true })
    fs.writeFileSync(path.join(src, "train.csv"), "a,b\n1,2\n")
    fs.writeFileSync(path.join(src, "pkg", "__init__.py"), "X = 1\n")
    fs.writeFileSync(path.join(src, "pkg", "sub", "deep.txt"), "deep\n")
    const seen = await Effect.runPromise(
      Effect.scoped(
        Effect.gen(function* () {
          const session = yield* transport().connect(node(0))
          const early = yield* Effect.flip(session.upload(path.join(src, "train.csv"), "train.csv"))
          const boot = yield* session.bootstrap(plan(), () => undefined)
          const file = yield* session.upload(path.join(src, "train.csv"), "data/train.csv")
          const folder = yield* session.upload(path.join(src, "pkg"), "lib/pkg")
          const outside = yield* Effect.flip(session.upload(path.join(src, "train.csv"), "../escaped.csv"))
          const missing = yield* Effect.flip(session.upload(path.join(src, "no-such-file"), "data/missing.csv"))
          const contents = [fs.readFileSync(file, "utf8"), fs.readFileSync(path.join(folder, "__init__.py"), "utf8"), fs.readFileSync(path.join(folder, "sub", "deep.txt"), "utf8")]
          return { early, workDir: boot.workDir, file, folder, outside, missing, contents, owner: fs.statSync(file).uid }
        })
      )
    )
    expect(seen.early).toMatchObject({ _tag: "TransportError", node: 0, message: expect.stringContaining("after bootstrap") })
    expect(seen.file).toBe(`${seen.workDir}/data/train.csv`)
    expect(seen.folder).toBe(`${seen.workDir}/lib/pkg`)
    expect(seen.contents).toEqual(["a,b\n1,2\n", "X = 1\n", "deep\n"])
    expect(seen.owner).toBe(fs.statSync(hosts.hosts[0]!.home).uid) // written by the host's login, over SFTP
    expect(seen.outside).toMatchObject({ _tag: "TransportError", node: 0, message: 'upload target "../escaped.csv" is not a relative path inside the work folder of node 0' })
    expect(seen.missing.message).toMatch(/^cannot upload .*no-such-file to node 0 \(.*127\.0\.0\.1.*\): cannot read/)
    expect(fs.existsSync(path.join(path.dirname(seen.workDir), "escaped.csv"))).toBe(false)
    // the work folder, with what was uploaded, went with the session
    expect(fs.existsSync(seen.workDir)).toBe(false)
  })

  it("names the host and the fix when its Python is too old", async () => {
    const error = Either.flip(await bootstrap(1, plan())).pipe(Either.getOrThrow)
    expect(error._tag).toBe("BootstrapError")
    expect(error.message).toContain(`${hosts.hosts[1]!.user}@127.0.0.1:${hosts.hosts[1]!.port}`)
    expect(error.message).toMatch(/Python 3\.8\.10 .*needs Python 3\.9 or newer/)
  })

  it("names the host and the fix when its Python has no venv module", async () => {
    const error = Either.flip(await bootstrap(2, plan())).pipe(Either.getOrThrow)
    expect(error.message).toContain(hosts.hosts[2]!.user)
    expect(error.message).toMatch(/lacks the venv module.*apt-get install python3-venv/)
  })

  it("explains a package the client cannot ship as a wheel", async () => {
    const error = Either.flip(await bootstrap(0, plan({ pip: ["six==0.0.1"] }))).pipe(Either.getOrThrow)
    expect(error.message).toMatch(/no wheel of six==0\.0\.1 for Python 3\.\d+ on manylinux_2_\d+_x86_64/)
    expect(error.message).toContain(hosts.hosts[0]!.user)
    expect(error.message).toContain('install: "index"')
  })

  it("says that image.apt needs root or sudo when the login has neither", async () => {
    const error = Either.flip(await bootstrap(0, plan({ apt: ["cowsay"] }))).pipe(Either.getOrThrow)
    expect(error.message).toMatch(/image\.apt \(cowsay\)|apt-get install cowsay failed/)
    expect(error.message).toContain(hosts.hosts[0]!.user)
  })

  it("explains requirements that conflict with the agent's", async () => {
    const error = Either.flip(await bootstrap(0, plan({ pip: ["cloudpickle==2.2.1"] }))).pipe(Either.getOrThrow)
    expect(error.message).toMatch(/requirements conflict .*cloudpickle>=3\.0/)
  })

  it('installs from an index on the node with install: "index"', async () => {
    // loopback hosts share this machine's network, so they reach the package index
    const p = plan({ pip: ["cloudpickle>=3.0", "lz4>=4.3", "cbor2>=5.6", "six"] })
    const result = Either.getOrThrow(await bootstrap(0, p, { install: "index" }))
    expect(result.cached).toBe(false)
    expect(fs.readdirSync(path.dirname(path.dirname(result.python)) + "/lib").length).toBe(1)
  }, 180_000)
})
