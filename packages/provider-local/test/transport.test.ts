import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect, Either } from "effect"
import { afterEach, describe, expect, it } from "vitest"
import { codecModules } from "@skyward/codec"
import { emptyImage, imageHash, Transport, TransportError, uploadDestination, type BootstrapPlan, type NodeInfo, type NodeSession } from "@skyward/contracts"
import { agentModules } from "@skyward/worker"
import { local } from "../src/index.js"

const node: NodeInfo = { index: 0, address: "localhost", data: {} }

/** Client-side files to upload, in a folder of this test's (removed after it). */
const sources: string[] = []
const makeSources = (): string => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "upload-src-"))
  sources.push(dir)
  fs.writeFileSync(path.join(dir, "train.csv"), "a,b\n1,2\n")
  fs.writeFileSync(path.join(dir, "other.csv"), "replaced\n")
  fs.mkdirSync(path.join(dir, "pkg", "sub"), { recursive: true })
  fs.writeFileSync(path.join(dir, "pkg", "__init__.py"), "X = 1\n")
  fs.writeFileSync(path.join(dir, "pkg", "sub", "deep.txt"), "deep\n")
  return dir
}
afterEach(() => sources.splice(0).forEach((dir) => fs.rmSync(dir, { recursive: true, force: true })))

const plan = (files: Record<string, string> = {}): BootstrapPlan => {
  const image = { ...emptyImage, files }
  return { image, imageHash: imageHash(image), ops: ["cat data/from-image.txt"], modules: [agentModules(), codecModules()] }
}

/** Runs `body` with a session of the local transport; the session (and its work folder) ends with it. */
const withSession = <A, E>(body: (session: NodeSession) => Effect.Effect<A, E>) =>
  Effect.runPromise(
    Effect.scoped(Effect.flatMap(Effect.flatMap(Transport, (transport) => transport.connect(node)), body)).pipe(Effect.provide(local().layer))
  )

describe("uploadDestination", () => {
  it.each([
    ["data/train.csv", "/w/data/train.csv"],
    ["./a/../b", "/w/b"],
    ["dir/", "/w/dir"]
  ])("puts %j at %j", (target, expected) => {
    expect(uploadDestination("/w", target)).toBe(expected)
  })

  it.each(["", ".", "..", "../x", "a/../../x", "/etc/passwd"])("refuses %j", (target) => {
    expect(uploadDestination("/w", target)).toBeUndefined()
  })
})

describe("NodeSession.upload on the local transport", () => {
  it("copies a file or a folder into the node's work folder, after bootstrap, and they go with the session", async () => {
    const src = makeSources()
    const lines: string[] = []
    fs.writeFileSync(path.join(src, "from-image.txt"), "shipped by bootstrap\n")
    const { workDir, file, folder, replaced } = await withSession((session) =>
      Effect.gen(function* () {
        const early = yield* Effect.either(session.upload(path.join(src, "train.csv"), "train.csv"))
        expect(Either.isLeft(early) && early.left).toMatchObject({ _tag: "TransportError", node: 0, message: expect.stringContaining("after bootstrap") })

        const boot = yield* session.bootstrap(plan({ "data/from-image.txt": path.join(src, "from-image.txt") }), (line) => lines.push(line))
        const file = yield* session.upload(path.join(src, "train.csv"), "data/train.csv")
        const folder = yield* session.upload(path.join(src, "pkg"), "lib/pkg")
        const replaced = yield* session.upload(path.join(src, "other.csv"), "data/train.csv")
        return { workDir: boot.workDir, file, folder, replaced }
      }).pipe(
        Effect.tap(({ file, folder }) =>
          Effect.sync(() => {
            // read while the session is open: the work folder goes with it
            expect(fs.readFileSync(file, "utf8")).toBe("replaced\n")
            expect(fs.readFileSync(path.join(folder, "__init__.py"), "utf8")).toBe("X = 1\n")
            expect(fs.readFileSync(path.join(folder, "sub", "deep.txt"), "utf8")).toBe("deep\n")
          })
        )
      )
    )
    expect(file).toBe(path.join(workDir, "data", "train.csv"))
    expect(replaced).toBe(file)
    expect(folder).toBe(path.join(workDir, "lib", "pkg"))
    // the Image's files travel the same way, before the bootstrap ops run in the work folder
    expect(lines).toContain("shipped by bootstrap")
    expect(fs.existsSync(workDir)).toBe(false)
  })

  it("fails with a TransportError and copies nothing for a target outside the work folder or a missing source", async () => {
    const src = makeSources()
    const outside = path.join(os.tmpdir(), "escaped.csv")
    const errors = await withSession((session) =>
      Effect.gen(function* () {
        const boot = yield* session.bootstrap(plan({ "data/from-image.txt": path.join(src, "train.csv") }), () => undefined)
        const attempts = [
          [path.join(src, "train.csv"), "../escaped.csv"],
          [path.join(src, "train.csv"), outside],
          [path.join(src, "train.csv"), ""],
          [path.join(src, "no-such-file"), "data/missing.csv"]
        ] as const
        const errors = yield* Effect.forEach(attempts, ([from, to]) => Effect.flip(session.upload(from, to)))
        expect(fs.readdirSync(boot.workDir).filter((name) => name !== ".tmp")).toEqual(["data"])
        expect(fs.readdirSync(path.join(boot.workDir, "data"))).toEqual(["from-image.txt"])
        return errors
      })
    )
    expect(fs.existsSync(outside)).toBe(false)
    expect(errors.every((e) => e instanceof TransportError && e.node === 0)).toBe(true)
    expect(errors.map((e) => e.message)).toEqual([
      'upload target "../escaped.csv" is not a relative path inside the work folder of node 0',
      `upload target ${JSON.stringify(outside)} is not a relative path inside the work folder of node 0`,
      'upload target "" is not a relative path inside the work folder of node 0',
      expect.stringMatching(/^cannot upload .*no-such-file to node 0: .*no such file or directory/)
    ])
  })

  it("refuses an Image file whose target leaves the work folder, naming image.files", async () => {
    const src = makeSources()
    const error = await withSession((session) => Effect.flip(session.bootstrap(plan({ "../x.csv": path.join(src, "train.csv") }), () => undefined)))
    expect(error).toMatchObject({ _tag: "BootstrapError", node: 0 })
    expect(error.message).toBe('image.files: upload target "../x.csv" is not a relative path inside the work folder of node 0')
  })
})
