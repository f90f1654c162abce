import fs from "node:fs"
import { register } from "node:module"
import path from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { createJiti } from "jiti"
import { exportedFile, findPackage, readManifest } from "./package-files.js"
import { SHARED_SPECIFIER, type SharedPackagesData } from "./shared-packages-hooks.js"

/** The CLI's package folder (this file is in its src/internal or dist/internal). */
const CLI_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..")

/** A package plugins and configs share with skyward, and its folder as the CLI finds it (through node_modules, not the real path). */
interface SharedPackage {
  readonly name: string
  readonly dir: string
}

let shared: ReadonlyArray<SharedPackage> | undefined

/** The CLI's own dependencies that plugins and configs share with it: `@skyward/*` and `effect`. */
export const sharedPackages = (): ReadonlyArray<SharedPackage> => {
  if (shared === undefined) {
    const { dependencies = {} } = JSON.parse(fs.readFileSync(path.join(CLI_ROOT, "package.json"), "utf8")) as { dependencies?: Record<string, string> }
    shared = Object.keys(dependencies).flatMap((name) => {
      const dir = SHARED_SPECIFIER.test(name) ? findPackage(name, CLI_ROOT) : undefined
      return dir === undefined ? [] : [{ name, dir }]
    })
  }
  return shared
}

let registered = false

/**
 * From now on, an import of `@skyward/*` or `effect` by a module outside skyward's own packages (a
 * plugin, what a plugin or a config imports) gets the CLI's own copy when the CLI has one: a plugin
 * file or folder needs no node_modules of its own, and a linked one (`npm install ../my-plugin`)
 * uses the CLI's core rather than its development copy. Idempotent.
 */
export const useSharedPackages = (): void => {
  if (registered) return
  registered = true
  const folderURL = (dir: string) => `${pathToFileURL(fs.realpathSync(dir)).href}/`
  const data: SharedPackagesData = {
    parentURL: pathToFileURL(path.join(CLI_ROOT, "package.json")).href,
    own: [folderURL(CLI_ROOT), ...sharedPackages().map((p) => folderURL(p.dir))]
  }
  register(new URL("./shared-packages-hooks.js", import.meta.url), { data })
}

/**
 * The same for configs, which jiti loads: every export of the shared packages (`@skyward/core`,
 * `effect/Effect`, ...; not `*` patterns) as an alias to the file the CLI imports. The paths go
 * through the CLI's node_modules so that jiti's `nativeModules` loads them natively (the CLI's
 * very instances, not transpiled copies).
 */
export const sharedAliases = (): Record<string, string> =>
  Object.fromEntries(
    sharedPackages().flatMap(({ name, dir }) => {
      const pkg = readManifest(dir)
      const subpaths =
        typeof pkg.exports === "object" && pkg.exports !== null && Object.keys(pkg.exports).every((key) => key.startsWith("."))
          ? Object.keys(pkg.exports).filter((key) => !key.includes("*"))
          : ["."]
      return subpaths.flatMap((subpath) => {
        const file = pkg.exports === undefined ? (subpath === "." ? pkg.main ?? "index.js" : undefined) : exportedFile(pkg, subpath)
        return file === undefined ? [] : [[subpath === "." ? name : `${name}/${subpath.slice(2)}`, path.join(dir, file)] as const]
      })
    })
  )

/**
 * Imports a TypeScript or JavaScript module with jiti (TypeScript without a build): its imports of
 * `@skyward/*` and `effect` are the CLI's own modules (aliases to them, loaded natively: the very
 * instances the CLI uses), wherever the file is.
 */
export const importWithJiti = (file: string): Promise<Record<string, unknown>> => {
  // no fsCache: it would leave transpiled copies of the config in $TMPDIR/jiti on every run
  const jiti = createJiti(import.meta.url, {
    moduleCache: false,
    fsCache: false,
    alias: sharedAliases(),
    nativeModules: sharedPackages().map((p) => p.name)
  })
  return jiti.import<Record<string, unknown>>(file)
}
