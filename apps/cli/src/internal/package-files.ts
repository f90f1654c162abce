import fs from "node:fs"
import { createRequire } from "node:module"
import path from "node:path"
import { exports as resolveExports } from "resolve.exports"

/** A package.json as far as finding its files goes. */
export interface PackageManifest {
  readonly name?: string
  readonly exports?: unknown
  readonly main?: string
}

/** The package.json of the package in folder `dir` (an empty manifest when it has none). */
export const readManifest = (dir: string): PackageManifest => {
  const manifest = path.join(dir, "package.json")
  return fs.existsSync(manifest) ? (JSON.parse(fs.readFileSync(manifest, "utf8")) as PackageManifest) : {}
}

/** The file a package's `exports` map gives `subpath` under `import`, undefined when it exports none. */
export const exportedFile = (pkg: PackageManifest, subpath: string): string | undefined => {
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
export const packageEntry = (target: string, subpath = "."): string => {
  if (!fs.statSync(target, { throwIfNoEntry: false })?.isDirectory()) return target
  const pkg = readManifest(target)
  if (pkg.exports !== undefined) {
    // Node's rules for an `exports` map under `import` (conditions node, import, default; `*` patterns)
    const entry = exportedFile(pkg, subpath)
    if (entry === undefined) throw new Error(`${pkg.name ?? target} does not export ${JSON.stringify(subpath)} for import`)
    return path.join(target, entry)
  }
  return path.join(target, subpath === "." ? (pkg.main ?? "index.js") : subpath)
}

/** `@scope/name/sub/file` as the package name and the subpath (`./sub/file`, or `.`). */
export const splitSpecifier = (specifier: string): { readonly name: string; readonly subpath: string } => {
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
