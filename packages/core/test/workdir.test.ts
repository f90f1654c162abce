import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect, Either } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ComputePool, snapshotWorkdir, WorkdirTooLarge, type PoolEvent } from "../src/index.js"
import { nodeWorkDirs, tmpEntries, waitForNoAgents } from "./leaks.js"

let project: string

/** Writes `files` (path -> content) under the project folder. */
const write = (files: Record<string, string>) => {
  for (const [file, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(project, file)), { recursive: true })
    fs.writeFileSync(path.join(project, file), content)
  }
}

const snapshot = (limit?: number) => Effect.runPromise(snapshotWorkdir(project, limit))
const paths = async () => (await snapshot()).files.map((f) => f.path)

beforeEach(() => {
  // beside the test file's private TMPDIR, not in it: the leak checks there are for what pools leave
  project = fs.mkdtempSync(path.join(path.dirname(os.tmpdir()), "skyward-workdir-test-"))
})
afterEach(() => fs.rmSync(project, { recursive: true, force: true }))

describe("the working directory: what travels", () => {
  it("everything but what .gitignore, .skywardignore and the built-in rules leave out, nested rules included", async () => {
    write({
      "main.py": "",
      "data/train.csv": "a\n",
      "data/big.parquet": "x",
      "logs/run.log": "",
      "pkg/mod.py": "",
      "pkg/__pycache__/mod.cpython-311.pyc": "",
      "pkg/.gitignore": "generated.py\n",
      "pkg/generated.py": "",
      "node_modules/left/index.js": "",
      ".git/HEAD": "",
      ".gitignore": "*.parquet\nlogs/\n",
      ".skywardignore": "!data/big.parquet\nsecret.txt\n",
      "secret.txt": "",
      ".venv/pyvenv.cfg": "home = /usr/bin\n",
      ".venv/lib/x.py": ""
    })
    expect(await paths()).toEqual([".gitignore", ".skywardignore", "data/big.parquet", "data/train.csv", "main.py", "pkg/.gitignore", "pkg/mod.py"])
    const excluded = new Map((await snapshot()).excluded.map((e) => [e.path, e.reason]))
    expect(excluded.get("logs/")).toBe(`ignored by ${project}/.gitignore (rule logs/)`)
    expect(excluded.get("secret.txt")).toBe(`ignored by ${project}/.skywardignore (rule secret.txt)`)
    expect(excluded.get("pkg/generated.py")).toBe(`ignored by ${project}/pkg/.gitignore (rule generated.py)`)
    expect(excluded.get("node_modules/")).toBe("left out by default (node_modules/)")
    expect(excluded.get(".venv/")).toMatch(/virtual environment/)
  })

  it("never sends what workdirExclude names (an --env-file), even when a rule takes it back", async () => {
    write({ "main.py": "", ".env.local": "API_TOKEN=secret\n", "conf/prod.env": "X=1\n", ".skywardignore": "!.env.local\n" })
    const taken = await Effect.runPromise(snapshotWorkdir(project, undefined, [], [path.join(project, ".env.local"), "conf/prod.env", "/elsewhere/.env"]))
    expect(taken.files.map((f) => f.path)).toEqual([".skywardignore", "main.py"])
    const excluded = new Map(taken.excluded.map((e) => [e.path, e.reason]))
    expect(excluded.get(".env.local")).toBe("left out by workdirExclude (where skyward run puts its --env-file files)")
    expect(excluded.get("conf/prod.env")).toBe("left out by workdirExclude (where skyward run puts its --env-file files)")
  })

  it("applies the .gitignore files above it up to the git repository's top, and follows links once", async () => {
    write({ ".gitignore": "*.tmp\n", "sub/keep.py": "", "sub/drop.tmp": "" })
    fs.mkdirSync(path.join(project, ".git"))
    fs.symlinkSync(path.join(project, "sub"), path.join(project, "sub", "loop"))
    const sub = await Effect.runPromise(snapshotWorkdir(path.join(project, "sub")))
    expect(sub.files.map((f) => f.path)).toEqual(["keep.py"])
    // a folder the repository ignores is sent by its own rules alone
    write({ "scratch/drop.tmp": "", "scratch/run.py": "", ".gitignore": "*.tmp\nscratch/\n" })
    const scratch = await Effect.runPromise(snapshotWorkdir(path.join(project, "scratch")))
    expect(scratch.files.map((f) => f.path)).toEqual(["drop.tmp", "run.py"])
  })

  it("names each file by its content and keeps its executable bit; an edit gives a new hash", async () => {
    write({ "run.sh": "echo hi\n", "a.txt": "same\n", "b.txt": "same\n" })
    fs.chmodSync(path.join(project, "run.sh"), 0o755)
    const first = await snapshot()
    const byPath = new Map(first.files.map((f) => [f.path, f]))
    expect(byPath.get("a.txt")!.hash).toBe(byPath.get("b.txt")!.hash)
    expect(byPath.get("run.sh")!.executable).toBe(true)
    expect(byPath.get("a.txt")!.executable).toBe(false)
    expect(first.bytes).toBe(8 + 5 + 5)
    fs.writeFileSync(path.join(project, "a.txt"), "edited\n")
    const second = new Map((await snapshot()).files.map((f) => [f.path, f.hash]))
    expect(second.get("a.txt")).not.toBe(byPath.get("a.txt")!.hash)
    expect(second.get("b.txt")).toBe(byPath.get("b.txt")!.hash)
  })

  it("refuses a folder over the limit before hashing, naming its size, its five largest entries and the ways out", async () => {
    write({ "data/a.bin": "x".repeat(3000), "models/m.bin": "x".repeat(2000), "main.py": "print()\n", "c.txt": "x".repeat(10) })
    const result = await Effect.runPromise(Effect.either(snapshotWorkdir(project, 4096)))
    expect(Either.isLeft(result)).toBe(true)
    const error = Either.getLeft(result).pipe((e) => e._tag === "Some" ? e.value : undefined)
    expect(error).toBeInstanceOf(WorkdirTooLarge)
    const tooLarge = error as WorkdirTooLarge
    expect(tooLarge.largest.map((e) => e.path)).toEqual(["data/", "models/", "c.txt", "main.py"])
    expect(tooLarge.message).toContain(project)
    expect(tooLarge.message).toContain("is 5 KiB, over the limit of 4 KiB")
    expect(tooLarge.message).toMatch(/\.skywardignore.*--workdir DIR.*--workdir-limit.*--no-workdir/)
  })
})

describe("the working directory on local nodes", () => {
  afterEach(async () => {
    expect(await waitForNoAgents()).toEqual([])
    expect(nodeWorkDirs()).toEqual([])
    expect(tmpEntries()).toEqual([])
  })

  const TOOLS = [
    "import os",
    "def read(p):",
    "    with open(p) as f:",
    "        return f.read()",
    "def listing(_):",
    "    return sorted(os.listdir('.'))",
    "def scribble(name):",
    "    with open(name, 'w') as f:",
    "        f.write('written on a worker')",
    "    return os.getcwd()"
  ].join("\n")

  it("is every task's current directory, its own copy on each node; the script's folder comes first on sys.path", async () => {
    write({ "tools.py": TOOLS, "data/x.txt": "hello from the client\n", "scripts/helper.py": "import sys\ndef first(_):\n    return sys.path[0]\n", ".gitignore": "ignored.txt\n", "ignored.txt": "" })
    const events: PoolEvent[] = []
    await ComputePool.use(
      { nodes: 2, worker: { concurrency: 1 }, workdir: project, sysPath: [".", "scripts"] },
      async (pool) => {
        expect(await pool.map("tools:read", ["data/x.txt", "data/x.txt"])).toEqual(["hello from the client\n", "hello from the client\n"])
        const listings = await pool.map<string[]>("tools:listing", [0, 1, 2, 3])
        for (const listing of listings) expect(listing).toEqual([".gitignore", "data", "scripts", "tools.py"])
        const [first] = await pool.map<string>("helper:first", [0])
        expect(path.basename(first!)).toBe("work")
        const cwds = await pool.map<string>("tools:scribble", ["out.txt", "out.txt", "out.txt", "out.txt"])
        expect(cwds.every((cwd) => !cwd.startsWith(project))).toBe(true)
      },
      (event) => events.push(event)
    )
    expect(fs.existsSync(path.join(project, "out.txt"))).toBe(false) // a worker never writes into the user's folder
    const shipped = events.filter((e) => e._tag === "WorkdirShipped")
    expect(shipped.map((e) => e.node).sort()).toEqual([0, 1])
    expect(shipped.every((e) => e._tag === "WorkdirShipped" && e.files === 4)).toBe(true)
  })

  it("sends each file once: a second pool of the same folder sends nothing, an edited file alone", async () => {
    write({ "tools.py": TOOLS, "data/x.txt": "first\n", "data/y.txt": "unchanged\n" })
    const sent = async () => {
      const events: PoolEvent[] = []
      const read = await ComputePool.use({ nodes: 2, worker: { concurrency: 1 }, workdir: project }, (pool) => pool.map("tools:read", ["data/x.txt"]), (e) => events.push(e))
      const shipped = events.flatMap((e) => (e._tag === "WorkdirShipped" ? [e] : []))
      expect(shipped).toHaveLength(2)
      return { read, files: shipped.reduce((n, e) => n + e.sentFiles, 0), bytes: shipped.reduce((n, e) => n + e.sentBytes, 0) }
    }
    await sent()
    expect(await sent()).toEqual({ read: ["first\n"], files: 0, bytes: 0 })
    fs.writeFileSync(path.join(project, "data/x.txt"), `edited ${Date.now()}\n`) // a content no earlier run sent
    const edited = await sent()
    expect(edited.read[0]).toMatch(/^edited/)
    expect(edited.files).toBe(1) // one of the two nodes stores it; the other finds it there
    expect(edited.bytes).toBe(fs.statSync(path.join(project, "data/x.txt")).size)
  })

  it("stops a pool whose working directory is over the limit before any node starts", async () => {
    write({ "big.bin": "x".repeat(5000) })
    const events: PoolEvent[] = []
    const error = await ComputePool.use({ workdir: project, workdirLimit: 1000 }, async () => "ran", (event) => events.push(event)).catch((e) => e)
    expect(error).toBeInstanceOf(WorkdirTooLarge)
    expect(events).toEqual([])
  })

  it("sends nothing with workdir: false (the agent's folder holds only the Image's files)", async () => {
    write({ "tools.py": TOOLS })
    const listing = await ComputePool.use(
      { workdir: false, image: { files: { "tools.py": path.join(project, "tools.py") } } },
      (pool) => pool.map<string[]>("tools:listing", [0])
    )
    expect(listing).toEqual([["tools.py"]])
  })
})
