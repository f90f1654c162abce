import fs from "node:fs"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll } from "vitest"

// Test environments are built once per clone and reused by every test file and run.
process.env.XDG_CACHE_HOME ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../.cache/test")

// A private temp folder per test file: what the pool leaves behind is ours alone to count.
const parent = process.env.TMPDIR ?? "/tmp"
const privateTmp = fs.mkdtempSync(path.join(parent, "skyward-test-"))
process.env.TMPDIR = privateTmp
afterAll(() => {
  process.env.TMPDIR = parent
  fs.rmSync(privateTmp, { recursive: true, force: true })
})
