import path from "node:path"
import { fileURLToPath } from "node:url"
import { defineConfig } from "vitest/config"

type TestOptions = NonNullable<NonNullable<Parameters<typeof defineConfig>[0] & object>["test"]>

/** The repository root, where the shared test cache lives. */
const repo = path.dirname(fileURLToPath(import.meta.url))

/**
 * The workspace's vitest settings, shared by every package: tests under `test/`, one file at a
 * time (they start real processes and servers on 2 cores), generous timeouts for first-run
 * environment builds, and Python environments cached in `.cache/test` for the whole clone.
 */
export const skywardTestConfig = (overrides: TestOptions = {}) =>
  defineConfig({
    test: {
      include: ["test/**/*.test.ts"],
      testTimeout: 120_000,
      hookTimeout: 300_000,
      fileParallelism: false,
      ...overrides,
      env: { XDG_CACHE_HOME: path.join(repo, ".cache", "test"), ...overrides.env }
    }
  })
