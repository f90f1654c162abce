// Vitest setup file (core, testing): each test file gets a private TMPDIR, so leak checks see only their own files.
import fs from "node:fs"
import path from "node:path"
import { afterAll } from "vitest"

// A private temp folder per test file: what the pool leaves behind is ours alone to count.
const parent = process.env.TMPDIR ?? "/tmp"
const privateTmp = fs.mkdtempSync(path.join(parent, "skyward-test-"))
process.env.TMPDIR = privateTmp
afterAll(() => {
  process.env.TMPDIR = parent
  fs.rmSync(privateTmp, { recursive: true, force: true })
})
