import path from "node:path"
import { Effect } from "effect"
import { createJiti } from "jiti"
import { UsageError } from "./errors.js"

/**
 * Loads `skyward.config.ts|js|json`: its default export (or the module itself) holds pool options,
 * as a vite.config.ts does. A file that throws, or exports something else, is a UsageError.
 */
export const loadConfigFile = (file: string): Effect.Effect<Record<string, unknown>, UsageError> =>
  Effect.tryPromise({
    try: async () => {
      // no fsCache: it would leave transpiled copies of the config in $TMPDIR/jiti on every run
      const jiti = createJiti(import.meta.url, { moduleCache: false, fsCache: false })
      const loaded = await jiti.import<Record<string, unknown>>(path.resolve(file))
      const value = (loaded as { default?: unknown }).default ?? loaded
      const options = typeof value === "function" ? await (value as () => unknown)() : value
      if (typeof options !== "object" || options === null || Array.isArray(options))
        throw new Error("it must export an object of pool options")
      return options as Record<string, unknown>
    },
    catch: (cause) => new UsageError({ message: `config file ${file}: ${(cause as Error).message.split("\n")[0]}` })
  })
