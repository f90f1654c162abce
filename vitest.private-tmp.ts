// Vitest setup file (core, testing): each test file gets a private TMPDIR and a run marker that
// every process it starts inherits, so leak checks see only what this file made. After every test,
// and after the file's last hook, that TMPDIR must be empty again: no socket, file or folder left.
import { randomBytes } from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { afterAll, afterEach, beforeEach } from "vitest"

const parent = process.env.TMPDIR ?? "/tmp"
const privateTmp = fs.mkdtempSync(path.join(parent, "skyward-test-"))
process.env.TMPDIR = privateTmp
// inherited by agents, their slots, pip, ...: a leak check finds them by it, even re-parented to init
process.env.SKYWARD_TEST_RUN = `${path.basename(privateTmp)}-${randomBytes(6).toString("hex")}`

const kindOf = (stat: fs.Stats): string =>
  stat.isSocket() ? "socket" : stat.isDirectory() ? "folder" : stat.isFIFO() ? "fifo" : stat.isSymbolicLink() ? "symlink" : "file"

/** What is in the private TMPDIR, as `name (kind)`; entries removed while listing are not counted. */
const leftovers = (): string[] =>
  fs.readdirSync(privateTmp).sort().flatMap((name) => {
    try {
      return [`${name} (${kindOf(fs.lstatSync(path.join(privateTmp, name)))})`]
    } catch {
      return []
    }
  })

/** Waits up to `graceMs` for the private TMPDIR to be empty (a process may still be removing its files); what is left. */
const settle = async (graceMs: number): Promise<string[]> => {
  const deadline = Date.now() + graceMs
  for (;;) {
    const left = leftovers()
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}

const GRACE_MS = 1_000

/** Empties the private TMPDIR, so the next check counts only what was made after it. */
const clear = () => {
  for (const name of fs.readdirSync(privateTmp)) fs.rmSync(path.join(privateTmp, name), { recursive: true, force: true })
}

/** Fails, naming `culprit`, when the private TMPDIR does not empty within the grace period; emptied for the next check either way. */
const expectEmpty = async (culprit: string) => {
  const left = await settle(GRACE_MS)
  if (left.length === 0) return
  clear()
  throw new Error(`${culprit} left ${left.length} entries in its TMPDIR ${privateTmp}: ${left.join(", ")}`)
}

// runs after the file's beforeAll hooks and before its own beforeEach hooks: what is there came from a beforeAll
beforeEach(() => expectEmpty("this file's beforeAll hooks"))

// runs after the file's own afterEach hooks (vitest runs after-hooks in reverse order of registration)
afterEach(() => expectEmpty("the test"))

afterAll(async () => {
  const left = await settle(GRACE_MS)
  process.env.TMPDIR = parent
  fs.rmSync(privateTmp, { recursive: true, force: true })
  if (left.length > 0)
    throw new Error(`this file's hooks (beforeAll/afterAll) left ${left.length} entries in its TMPDIR ${privateTmp}: ${left.join(", ")}`)
})
