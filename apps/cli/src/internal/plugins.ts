import fs from "node:fs"
import path from "node:path"
import { pathToFileURL } from "node:url"
import type { Plugin } from "@skyward/core"
import { Effect } from "effect"
import { UsageError } from "./errors.js"

/** Plugins the CLI knows by name: the package to import and its factory (loaded only when asked for). */
const BUILT_IN: Readonly<Record<string, { readonly module: string; readonly factory: string }>> = {
  joblib: { module: "@skyward/plugin-joblib", factory: "joblib" },
  sklearn: { module: "@skyward/plugin-sklearn", factory: "sklearn" }
}

const looksLikePlugin = (value: unknown): value is Plugin =>
  typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string"

/** A module's plugin: its default export or `plugin` export, either a plugin or a factory of one. */
const pluginOf = (module: Record<string, unknown>): Plugin | undefined => {
  for (const candidate of [module.default, module.plugin]) {
    const value = typeof candidate === "function" ? (candidate as () => unknown)() : candidate
    if (looksLikePlugin(value)) return value
  }
  return undefined
}

/** A folder is a package: the file its package.json's `exports["."]` (import/default) or `main` names, else index.js. */
const packageEntry = (target: string): string => {
  if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) return target
  const manifest = path.join(target, "package.json")
  if (!fs.existsSync(manifest)) return path.join(target, "index.js")
  const pkg = JSON.parse(fs.readFileSync(manifest, "utf8")) as { exports?: unknown; main?: string }
  const root = typeof pkg.exports === "object" && pkg.exports !== null && "." in pkg.exports ? (pkg.exports as Record<string, unknown>)["."] : pkg.exports
  const conditional = (value: unknown): string | undefined =>
    typeof value === "string"
      ? value
      : typeof value === "object" && value !== null
        ? conditional((value as Record<string, unknown>).import ?? (value as Record<string, unknown>).node ?? (value as Record<string, unknown>).default)
        : undefined
  return path.join(target, conditional(root) ?? pkg.main ?? "index.js")
}

/**
 * Resolves `--plugin NAME`: a built-in name (joblib, sklearn), a path (./my-plugin) or an npm
 * package name, resolved from the current directory.
 */
export const resolvePlugin = (name: string): Effect.Effect<Plugin, UsageError> => {
  const builtIn = BUILT_IN[name]
  if (builtIn)
    return Effect.promise(() => import(builtIn.module) as Promise<Record<string, () => Plugin>>).pipe(
      Effect.map((module) => module[builtIn.factory]!())
    )
  const isPath = name.startsWith(".") || name.startsWith("/")
  const specifier = isPath ? pathToFileURL(packageEntry(path.resolve(name))).href : name
  return Effect.tryPromise({
    try: () => import(specifier) as Promise<Record<string, unknown>>,
    catch: (cause) =>
      new UsageError({
        message: `unknown plugin ${JSON.stringify(name)}: not a built-in (${Object.keys(BUILT_IN).join(", ")}) and it cannot be imported (${(cause as Error).message.split("\n")[0]})`
      })
  }).pipe(
    Effect.flatMap((module) => {
      const plugin = pluginOf(module)
      return plugin
        ? Effect.succeed(plugin)
        : Effect.fail(new UsageError({ message: `plugin ${JSON.stringify(name)} exports no plugin (expected a default export or \`plugin\`)` }))
    })
  )
}
