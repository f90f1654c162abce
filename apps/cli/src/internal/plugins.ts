import fs from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { pathToFileURL } from "node:url"
import { exports as resolveExports } from "resolve.exports"
import type { Plugin } from "@skyward/contracts"
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

/** The file a package's `exports` map gives `subpath` under `import`, undefined when it exports none. */
const exportedFile = (pkg: { readonly exports?: unknown }, subpath: string): string | undefined => {
  try {
    return resolveExports(pkg, subpath)?.[0]
  } catch {
    return undefined // resolve.exports throws for a subpath the map does not export
  }
}

/**
 * The file `import` loads for `subpath` of the package in folder `target`: what its package.json's
 * `exports` gives (conditions node, import, default), else `main` or index.js (for `.`) or the
 * file itself. A path that is no folder is a file to import as it is.
 */
const packageEntry = (target: string, subpath = "."): string => {
  if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) return target
  const manifest = path.join(target, "package.json")
  const pkg = fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")) as { name?: string; exports?: unknown; main?: string }) : {}
  if (pkg.exports !== undefined) {
    // Node's rules for an `exports` map under `import` (conditions node, import, default; `*` patterns)
    const entry = exportedFile(pkg, subpath)
    if (entry === undefined) throw new Error(`${pkg.name ?? target} does not export ${JSON.stringify(subpath)} for import`)
    return path.join(target, entry)
  }
  return path.join(target, subpath === "." ? (pkg.main ?? "index.js") : subpath)
}

/** `@scope/name/sub/file` as the package name and the subpath (`./sub/file`, or `.`). */
const splitSpecifier = (specifier: string): { readonly name: string; readonly subpath: string } => {
  const parts = specifier.split("/")
  const length = specifier.startsWith("@") ? 2 : 1
  const rest = parts.slice(length)
  return { name: parts.slice(0, length).join("/"), subpath: rest.length > 0 ? `./${rest.join("/")}` : "." }
}

/**
 * The folder of package `name` as Node finds it from `dir`: the `node_modules` folders of `dir`
 * and its parents, then the global folders (NODE_PATH, ~/.node_modules, ...).
 */
export const findPackage = (name: string, dir: string): string | undefined =>
  (createRequire(path.join(dir, "noop.js")).resolve.paths(name) ?? [])
    .map((folder) => path.join(folder, name))
    .find((folder) => fs.existsSync(path.join(folder, "package.json")))

const firstLine = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause)).split("\n")[0] ?? ""

const importFailed = (name: string, cause: unknown) =>
  new UsageError({ message: `plugin ${JSON.stringify(name)} cannot be imported: ${firstLine(cause)}` })

/**
 * Imports the module of `--plugin NAME`: a path, or a package installed in the current directory's
 * project (its node_modules or a parent's), else one installed next to the CLI itself (a global
 * install of both).
 */
const importPlugin = (name: string): Effect.Effect<Record<string, unknown>, UsageError> => {
  const load = (file: string) =>
    Effect.tryPromise({ try: () => import(pathToFileURL(file).href) as Promise<Record<string, unknown>>, catch: (cause) => importFailed(name, cause) })
  if (name.startsWith(".") || name.startsWith("/")) {
    if (!fs.existsSync(path.resolve(name)))
      return Effect.fail(new UsageError({ message: `unknown plugin ${JSON.stringify(name)}: there is no file or folder ${path.resolve(name)}` }))
    return Effect.try({ try: () => packageEntry(path.resolve(name)), catch: (cause) => importFailed(name, cause) }).pipe(Effect.flatMap(load))
  }
  const { name: packageName, subpath } = splitSpecifier(name)
  const here = findPackage(packageName, process.cwd())
  if (here !== undefined)
    return Effect.try({ try: () => packageEntry(here, subpath), catch: (cause) => importFailed(name, cause) }).pipe(Effect.flatMap(load))
  return Effect.tryPromise({
    try: () => import(name) as Promise<Record<string, unknown>>,
    catch: (cause) =>
      (cause as { code?: unknown }).code === "ERR_MODULE_NOT_FOUND" && firstLine(cause).includes(`'${packageName}'`)
        ? new UsageError({
            message: `unknown plugin ${JSON.stringify(name)}: not a built-in (${Object.keys(BUILT_IN).join(", ")}), and no package of that name is installed in ${process.cwd()} (node_modules, here or above) or next to skyward`
          })
        : importFailed(name, cause)
  })
}

/**
 * Resolves `--plugin NAME`: a built-in name (joblib, sklearn), a path (./my-plugin, a file or a
 * package folder) or an npm package name, looked up from the current directory (the user's
 * project, as `node` would find it there), then from the CLI's own location.
 */
export const resolvePlugin = (name: string): Effect.Effect<Plugin, UsageError> => {
  const builtIn = BUILT_IN[name]
  if (builtIn)
    return Effect.promise(() => import(builtIn.module) as Promise<Record<string, () => Plugin>>).pipe(
      Effect.map((module) => module[builtIn.factory]!())
    )
  return importPlugin(name).pipe(
    Effect.flatMap((module) => {
      const plugin = pluginOf(module)
      return plugin
        ? Effect.succeed(plugin)
        : Effect.fail(new UsageError({ message: `plugin ${JSON.stringify(name)} exports no plugin (expected a default export or \`plugin\`)` }))
    })
  )
}
