import path from "node:path"
import type { Plugin } from "@skyward/contracts"
import { Effect } from "effect"
import { UsageError } from "./errors.js"
import { resolvePlugin } from "./plugins.js"

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value)

const ENTRY_SHAPES = 'a plugin name ("joblib", "./my-plugin.mjs", a package), {"plugin": NAME, "options": {...}}, or a plugin object'

/**
 * One entry of a config's `plugins`: a name as `--plugin` takes it (a built-in, a path relative to
 * the config file's folder, a package found from there), `{ "plugin": NAME, "options": {...} }`
 * (the options go to the plugin's factory), or a plugin object (a TS/JS config's `joblib()`), kept.
 */
const configPlugin = (entry: unknown, index: number, config: string): Effect.Effect<Plugin, UsageError> => {
  const where = `config file ${config}: plugins[${index}]: `
  const from = path.dirname(path.resolve(config))
  const bad = (problem: string) => Effect.fail(new UsageError({ message: `${where}${problem}; expected ${ENTRY_SHAPES}` }))
  if (typeof entry === "string") return resolvePlugin({ name: entry, from, where })
  if (!isObject(entry)) return bad(`${JSON.stringify(entry)} is no plugin`)
  if (!("plugin" in entry)) return typeof entry.name === "string" ? Effect.succeed(entry as unknown as Plugin) : bad("an object with neither plugin nor name")
  const { plugin: name, options, ...rest } = entry
  const stray = Object.keys(rest)[0]
  if (typeof name !== "string" || name === "") return bad('"plugin" must be the plugin\'s name')
  if (stray !== undefined) return bad(`unknown key ${JSON.stringify(stray)} beside "plugin"`)
  if (options !== undefined && !isObject(options)) return bad('"options" must be an object of the factory\'s options')
  return resolvePlugin({ name, options, from, where })
}

/** A config file's `plugins` (absent: none) as plugins, in order. */
export const configPlugins = (value: unknown, config: string | undefined): Effect.Effect<ReadonlyArray<Plugin>, UsageError> => {
  if (value === undefined || config === undefined) return Effect.succeed([])
  if (!Array.isArray(value)) return Effect.fail(new UsageError({ message: `config file ${config}: plugins must be a list of ${ENTRY_SHAPES}` }))
  return Effect.forEach(value, (entry, index) => configPlugin(entry, index, config))
}
