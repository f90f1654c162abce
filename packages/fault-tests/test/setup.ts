import fs from "node:fs"
import path from "node:path"
import { afterAll } from "vitest"

// The Python environments live in the repository's test cache (vitest.shared.ts); nothing may come
// from the user's cache settings or SSH agent.
delete process.env.SKYWARD_CACHE_DIR
delete process.env.SSH_AUTH_SOCK

// Every temporary file of this test file (node work dirs, bridge dirs, each `skyward run`'s own
// TMPDIR) goes under a private folder, so "nothing left" is checked there alone, whatever else
// runs on the machine; the folder goes when the file's tests are done.
const parent = process.env.TMPDIR ?? "/tmp"
const root = fs.mkdtempSync(path.join(parent, "skyward-faults-"))
process.env.TMPDIR = root
process.env.SKYWARD_FAULTS_TMP = root
afterAll(() => {
  process.env.TMPDIR = parent
  fs.rmSync(root, { recursive: true, force: true })
})
