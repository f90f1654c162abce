import fs from "node:fs"
import path from "node:path"
import { pathToFileURL } from "node:url"
import type { Plugin } from "@skyward/contracts"
import { Effect } from "effect"
import { UsageError } from "./errors.js"
import { findPackage, packageEntry, splitSpecifier } from "./package-files.js"
import { PLUGIN_SPEC_SYNTAX } from "./plugin-spec.js"
import { importWithJiti, useSharedPackages } from "./shared-packages.js"

/** Plugins the CLI knows by name: the package to import and its factory (loaded only when asked for). */
const BUILT_IN: Readonly<Record<string, { readonly module: string; readonly factory: string }>> = {
  joblib: { module: "@skyward/plugin-joblib", factory: "joblib" },
  sklearn: { module: "@skyward/plugin-sklearn", factory: "sklearn" }
}

/** A plugin to load: `--plugin NAME[:options]` or a config file's entry. */
export interface PluginRequest {
  /** A built-in name, a path (`./x.mjs`, a file or a package folder) or an npm package name (a subpath too). */
  readonly name: string
  /** Options for the plugin's factory; undefined calls it with none. */
  readonly options?: Readonly<Record<string, unknown>> | undefined
  /** The folder paths are relative to and packages are looked up from (default: the current one). */
  readonly from?: string
  /** What to put before a message, such as `config file skyward.config.json: plugins[1]: ` (default none). */
  readonly where?: string
}

const looksLikePlugin = (value: unknown): value is Plugin =>
  typeof value === "object" && value !== null && typeof (value as { name?: unknown }).name === "string"

const firstLine = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause)).split("\n")[0] ?? ""

/** True unless `factory` is declared with an empty parameter list (`() => ...`, `function f() {}`). */
const takesOptions = (factory: (...args: never[]) => unknown): boolean => factory.length > 0 || !/^[^(]*\(\s*\)/.test(Function.prototype.toString.call(factory))

/** How to give `request` options, where it came from. */
const optionsHint = (request: PluginRequest): string =>
  request.where
    ? `{"plugin": ${JSON.stringify(request.name)}, "options": {...}} in the config's plugins`
    : `--plugin ${request.name}:key=value,key=value`

/**
 * A module's plugin: its default export or `plugin` export, either a plugin or a factory of one
 * (sync or async), called with `options` (a factory declared without parameters, or a plugin object, takes none).
 */
const pluginOf = (module: Record<string, unknown>, request: PluginRequest): Effect.Effect<Plugin, UsageError> => {
  const { name, options, where = "" } = request
  const fail = (problem: string) => Effect.fail(new UsageError({ message: `${where}plugin ${JSON.stringify(name)} ${problem}` }))
  const candidate = [module.default, module.plugin].find((value) => typeof value === "function" || looksLikePlugin(value))
  if (candidate === undefined) return fail("exports no plugin (expected a default export or `plugin`: a plugin, or a function that makes one)")
  if (typeof candidate !== "function")
    return options === undefined ? Effect.succeed(candidate as Plugin) : fail(`takes no options: it exports a plugin, not a function that makes one (drop the options)`)
  const factory = candidate as (options?: unknown) => unknown
  if (options !== undefined && !takesOptions(factory)) return fail(`takes no options: its factory has no parameters (drop the options)`)
  // a factory may be async: its promise is awaited
  return Effect.tryPromise({
    try: async () => (await factory(options)) as unknown,
    catch: (cause) => cause
  }).pipe(
    Effect.catchAll((cause) =>
      fail(
        `could not be made: its factory failed${options === undefined ? " without options" : ""}: ${firstLine(cause)}` +
          (options === undefined && takesOptions(factory) ? ` (if it needs options: ${optionsHint(request)})` : "")
      )
    ),
    Effect.flatMap((made) => (looksLikePlugin(made) ? Effect.succeed(made) : fail("exports a function that made no plugin (an object with a name)")))
  )
}

const importFailed = (request: PluginRequest, cause: unknown) =>
  new UsageError({ message: `${request.where ?? ""}plugin ${JSON.stringify(request.name)} cannot be imported: ${firstLine(cause)}` })

/**
 * Imports the module of plugin NAME: a path (relative to `from`), or a package installed in the
 * project of `from` (its node_modules or a parent's), else one installed next to the CLI itself (a
 * global install of both). Its imports of `@skyward/*` and `effect` get the CLI's own copies.
 */
const importPlugin = (request: PluginRequest): Effect.Effect<Record<string, unknown>, UsageError> => {
  const { name, from = process.cwd(), where = "" } = request
  const load = (file: string) =>
    Effect.tryPromise({
      try: () => {
        // TypeScript (a plugin's source, as docs/plugins.md writes it) through jiti, like a config
        if (/\.[cm]?tsx?$/.test(file)) return importWithJiti(file)
        useSharedPackages()
        return import(pathToFileURL(file).href) as Promise<Record<string, unknown>>
      },
      catch: (cause) => importFailed(request, cause)
    })
  if (name.startsWith(".") || path.isAbsolute(name)) {
    const target = path.resolve(from, name)
    if (!fs.existsSync(target))
      return Effect.fail(
        new UsageError({
          message:
            `${where}unknown plugin ${JSON.stringify(name)}: there is no file or folder ${target}` +
            (name.includes(":") && !where ? ` (to give a plugin options: ${PLUGIN_SPEC_SYNTAX})` : "")
        })
      )
    return Effect.try({ try: () => packageEntry(target), catch: (cause) => importFailed(request, cause) }).pipe(Effect.flatMap(load))
  }
  const { name: packageName, subpath } = splitSpecifier(name)
  const here = findPackage(packageName, from)
  if (here !== undefined)
    return Effect.try({ try: () => packageEntry(here, subpath), catch: (cause) => importFailed(request, cause) }).pipe(Effect.flatMap(load))
  return Effect.tryPromise({
    try: () => {
      useSharedPackages()
      return import(name) as Promise<Record<string, unknown>>
    },
    catch: (cause) =>
      (cause as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && firstLine(cause).includes(`'${packageName}'`)
        ? new UsageError({
            message: `${where}unknown plugin ${JSON.stringify(name)}: not a built-in (${Object.keys(BUILT_IN).join(", ")}), and no package of that name is installed in ${from} (node_modules, here or above) or next to skyward`
          })
        : importFailed(request, cause)
  })
}

/**
 * Resolves a plugin: a built-in name (joblib, sklearn), a path (./my-plugin, a file or a package
 * folder, relative to `from`) or an npm package name, looked up from `from` (the user's project,
 * as `node` would find it there), then from the CLI's own location; its factory is called with
 * `options`. Anything wrong (not found, not a plugin, options it cannot take, a factory that
 * throws) is a UsageError naming the plugin.
 */
export const resolvePlugin = (request: PluginRequest): Effect.Effect<Plugin, UsageError> => {
  const builtIn = BUILT_IN[request.name]
  const module = builtIn
    ? Effect.promise(() => import(builtIn.module) as Promise<Record<string, unknown>>).pipe(Effect.map((m) => ({ default: m[builtIn.factory] })))
    : importPlugin(request)
  return Effect.flatMap(module, (m) => pluginOf(m, request))
}
