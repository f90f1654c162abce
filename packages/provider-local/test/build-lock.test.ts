import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { withBuildLock } from "../src/internal/build-lock.js"

describe("the build lock", () => {
  it("stays fresh while its holder builds, so a second build waits instead of building the same folder", async () => {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-build-lock-"))
    try {
      const dir = path.join(root, "env")
      const lockDir = `${dir}.lock`
      const lines: string[] = []
      let secondBuilt = false
      const holder = withBuildLock(dir, 0, () => undefined, Effect.gen(function* () {
        const taken = fs.statSync(lockDir).mtimeMs
        // longer than one refresh (5 s): the holder must have touched its lock meanwhile
        yield* Effect.sleep("6500 millis")
        return fs.statSync(lockDir).mtimeMs - taken
      }))
      const second = Effect.sleep("300 millis").pipe(
        Effect.zipRight(withBuildLock(dir, 1, (line) => lines.push(line), Effect.sync(() => (secondBuilt = true))))
      )
      const [refreshedBy] = await Effect.runPromise(Effect.all([holder, second], { concurrency: 2 }))
      expect(refreshedBy).toBeGreaterThan(1_000)
      expect(secondBuilt).toBe(true) // after the holder released it
      expect(lines).toEqual([`waiting for node 0 building ${dir}`])
      expect(fs.existsSync(lockDir)).toBe(false)
    } finally {
      fs.rmSync(root, { recursive: true, force: true })
    }
  }, 20_000)
})
