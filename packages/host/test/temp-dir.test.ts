import { spawnSync } from "node:child_process"
import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import { afterEach, beforeEach, describe, expect, it } from "vitest"
import { ownedTempDir } from "../src/index.js"

/** The pid of a process that has ended (its folders are orphans). */
const deadPid = (): number => spawnSync("true").pid!

/** Runs `ownedTempDir(prefix, parent)` and closes its scope at once: the sweep has run, the new folder is gone. */
const sweep = (prefix: string, parent: string) => Effect.runPromise(Effect.scoped(Effect.asVoid(ownedTempDir(prefix, parent))))

const OTHER_UID = 65534
const asRoot = process.getuid?.() === 0

describe("ownedTempDir's sweep of folders left by dead processes", () => {
  let shared: string
  beforeEach(() => {
    // a TMPDIR shared with other users, as /tmp is (world-writable, sticky)
    shared = fs.mkdtempSync(path.join(os.tmpdir(), "shared-"))
    fs.chmodSync(shared, 0o1777)
  })
  afterEach(() => fs.rmSync(shared, { recursive: true, force: true }))

  it("removes this user's own folder of a dead process, and makes a private one", async () => {
    const orphan = path.join(shared, `skyward-node0-${deadPid()}-abcdef`)
    fs.mkdirSync(path.join(orphan, "deep"), { recursive: true, mode: 0o700 })
    fs.writeFileSync(path.join(orphan, "deep", "file"), "left by a SIGKILLed pool")
    const made = await Effect.runPromise(Effect.scoped(ownedTempDir("skyward-node0", shared).pipe(Effect.map((dir) => ({ dir, mode: fs.statSync(dir).mode & 0o777 })))))
    expect(made.mode).toBe(0o700)
    expect(path.basename(made.dir)).toMatch(new RegExp(`^skyward-node0-${process.pid}-`))
    expect(fs.readdirSync(shared)).toEqual([])
  })

  it.skipIf(!asRoot)("leaves another user's folder alone, even when its process is dead", async () => {
    const theirs = path.join(shared, `skyward-node0-${deadPid()}-theirs`)
    fs.mkdirSync(theirs, { mode: 0o700 })
    fs.writeFileSync(path.join(theirs, "work"), "another user's pool")
    fs.chownSync(theirs, OTHER_UID, OTHER_UID)
    fs.chownSync(path.join(theirs, "work"), OTHER_UID, OTHER_UID)
    await sweep("skyward-node0", shared)
    expect(fs.readdirSync(shared)).toEqual([path.basename(theirs)])
    expect(fs.readFileSync(path.join(theirs, "work"), "utf8")).toBe("another user's pool")
  })

  it("does not follow links: a link named like an orphan, and links inside an orphan, leave their targets alone", async () => {
    const keep = fs.mkdtempSync(path.join(os.tmpdir(), "keep-"))
    try {
      fs.writeFileSync(path.join(keep, "precious"), "not Skyward's")
      const link = path.join(shared, `skyward-node0-${deadPid()}-link`)
      fs.symlinkSync(keep, link)
      const orphan = path.join(shared, `skyward-node0-${deadPid()}-inner`)
      fs.mkdirSync(orphan, { mode: 0o700 })
      fs.symlinkSync(keep, path.join(orphan, "to-keep"))
      await sweep("skyward-node0", shared)
      expect(fs.readFileSync(path.join(keep, "precious"), "utf8")).toBe("not Skyward's")
      // the orphan went; the link is no folder of ours, so it stays as it is
      expect(fs.readdirSync(shared)).toEqual([path.basename(link)])
      expect(fs.lstatSync(link).isSymbolicLink()).toBe(true)
    } finally {
      fs.rmSync(keep, { recursive: true, force: true })
    }
  })

  it("leaves folders of live processes and of other prefixes", async () => {
    const live = path.join(shared, `skyward-node0-${process.ppid}-live`)
    const other = path.join(shared, `skyward-bridge-${deadPid()}-other`)
    fs.mkdirSync(live)
    fs.mkdirSync(other)
    await sweep("skyward-node0", shared)
    expect(fs.readdirSync(shared).sort()).toEqual([path.basename(other), path.basename(live)].sort())
  })
})
