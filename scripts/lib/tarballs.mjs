/* global process */
// Tarballs of the workspace's public packages that install from a folder, without a registry.
//
// `pnpm pack` writes what the registry would serve: a package's @skyward dependencies as ranges
// (`^0.1.0`). Until the packages are published nothing serves those ranges, and npm, even given
// every sibling tarball on one `npm install` line, looks each of them up on the registry while it
// plans the install. So each tarball made here names its @skyward dependencies by their sibling
// tarball instead (`file:./skyward-host-0.1.0-1a2b3c4d.tgz`), which npm resolves next to the
// tarball that asks for it: `npm install DIR/skyward-core-0.1.0-<hash>.tgz` installs core and the
// @skyward packages it needs from DIR, and asks the registry only for the others (effect, ...).
//
// A tarball's name ends with a hash of its content, which includes its siblings' names: a package
// whose code or dependencies changed gets a new name, and so does every package depending on it.
// npm installs a file: dependency again only when its path changes; so after a new pack, the same
// `npm install` line updates what changed (same names would leave the old copies installed).

import { execFile } from "node:child_process"
import crypto from "node:crypto"
import fs from "node:fs"
import path from "node:path"
import { promisify } from "node:util"
import { readEntry, writeWithEntry } from "./tgz.mjs"

const run = promisify(execFile)

/**
 * @typedef {object} WorkspacePackage
 * @property {string} name the package's name, e.g. `@skyward/core`
 * @property {string} version its version, e.g. `0.1.0`
 * @property {string} dir its folder
 * @property {boolean} private whether it is private (never packed)
 */

/**
 * @typedef {object} Tarball
 * @property {string} name the package's name
 * @property {string} version its version
 * @property {string} file the tarball's path (`DIR/skyward-core-0.1.0-1a2b3c4d.tgz`)
 * @property {number} bytes its size
 * @property {string[]} siblings the @skyward packages it names by their sibling tarball
 */

/**
 * Runs pnpm: the pnpm running this script when there is one (`pnpm pack:all`), else `npx -y pnpm@10`.
 * @param {string[]} args pnpm's arguments
 * @param {string} cwd where to run it
 * @returns {Promise<string>} its stdout
 */
export const pnpm = async (args, cwd) => {
  const execpath = process.env.npm_execpath
  const [command, argv] =
    execpath && /pnpm/.test(path.basename(execpath)) && fs.existsSync(execpath)
      ? [process.execPath, [execpath, ...args]]
      : ["npx", ["-y", "pnpm@10", ...args]]
  try {
    return (await run(command, argv, { cwd, maxBuffer: 64 * 1024 * 1024 })).stdout
  } catch (error) {
    const e = /** @type {{ stdout?: string, stderr?: string, message: string }} */ (error)
    throw new Error(`pnpm ${args.join(" ")} failed in ${cwd}: ${e.message}\n${e.stdout ?? ""}${e.stderr ?? ""}`)
  }
}

/**
 * The workspace's packages (the root excluded): the folders with a package.json that match the
 * `packages:` globs of pnpm-workspace.yaml (`dir/*` or `dir`, as this workspace writes them).
 * @param {string} repo the workspace root
 * @returns {WorkspacePackage[]} every package, private ones included, by name
 */
export const workspacePackages = (repo) => {
  const yaml = fs.readFileSync(path.join(repo, "pnpm-workspace.yaml"), "utf8")
  const section = /^packages:\s*\n((?:[ \t]+-.*\n?)+)/m.exec(yaml)?.[1]
  if (!section) throw new Error(`no packages: list in ${path.join(repo, "pnpm-workspace.yaml")}`)
  const globs = section.split("\n").map((l) => l.replace(/^\s*-\s*/, "").trim().replace(/^["']|["']$/g, "")).filter(Boolean)
  const dirs = globs.flatMap((glob) => {
    if (!/^[\w.-]+(\/[\w.-]+)*(\/\*)?$/.test(glob)) throw new Error(`pnpm-workspace.yaml: "${glob}" is not of the form dir/* or dir, the only ones scripts/lib/tarballs.mjs reads`)
    if (!glob.endsWith("/*")) return [path.join(repo, glob)]
    const parent = path.join(repo, glob.slice(0, -2))
    return fs.existsSync(parent) ? fs.readdirSync(parent).map((name) => path.join(parent, name)) : []
  })
  return dirs
    .filter((dir) => fs.existsSync(path.join(dir, "package.json")))
    .map((dir) => {
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, "package.json"), "utf8"))
      return { name: manifest.name, version: manifest.version, dir, private: manifest.private === true }
    })
    .sort((a, b) => a.name.localeCompare(b.name))
}

/**
 * The file name `pnpm pack` gives a package's tarball: `@skyward/core` 0.1.0 -> `skyward-core-0.1.0.tgz`.
 * @param {{ name: string, version: string }} pkg the package
 * @returns {string} the file name
 */
export const tarballName = ({ name, version }) => `${name.replace(/^@/, "").replace("/", "-")}-${version}.tgz`

/**
 * Packs the given packages with `pnpm pack` (workspace ranges become real ones) into a folder.
 * @param {string} repo the workspace root
 * @param {WorkspacePackage[]} packages the packages to pack (public ones)
 * @param {string} destination an existing folder
 * @returns {Promise<void>}
 */
export const pnpmPack = async (repo, packages, destination) => {
  await pnpm(["-r", ...packages.flatMap((p) => ["--filter", p.name]), "pack", "--pack-destination", destination], repo)
  for (const p of packages)
    if (!fs.existsSync(path.join(destination, tarballName(p))))
      throw new Error(`pnpm pack wrote no ${tarballName(p)} for ${p.name} into ${destination}`)
}

const DEPENDENCY_FIELDS = ["dependencies", "peerDependencies", "optionalDependencies"]

/**
 * Rewrites a packed manifest so that its dependencies on the other packed packages name their
 * sibling tarball (`file:./skyward-host-0.1.0-1a2b3c4d.tgz`). Throws on a dependency pnpm left as
 * `workspace:`, on one whose packed range is not the sibling's version (`^0.1.0`: what the
 * published package will ask the registry for), and on one on a workspace package that is not
 * packed (a private one).
 * @param {Record<string, unknown>} manifest the packed package.json (changed in place)
 * @param {Map<string, { name: string, version: string, file?: string }>} packed the packed packages
 *   by name, with the file name of their tarball once written (`file`)
 * @param {Set<string>} workspace the names of every workspace package
 * @returns {string[]} the dependencies it rewrote
 */
export const pointAtSiblings = (manifest, packed, workspace) => {
  const rewritten = new Set()
  for (const field of DEPENDENCY_FIELDS) {
    const deps = /** @type {Record<string, string> | undefined} */ (manifest[field])
    for (const [dep, range] of Object.entries(deps ?? {})) {
      if (range.startsWith("workspace:"))
        throw new Error(`${manifest.name}: pnpm pack left ${field}.${dep} as "${range}"; pack with pnpm 10 (npx -y pnpm@10)`)
      const sibling = packed.get(dep)
      if (sibling) {
        // what the registry would be asked for once published: a range of the sibling's version
        const published = [sibling.version, `^${sibling.version}`, `~${sibling.version}`]
        if (!published.includes(range))
          throw new Error(`${manifest.name}: pnpm pack wrote ${field}.${dep} as "${range}", which is not ${sibling.name}'s version ${sibling.version}: use "workspace:^" in ${manifest.name}'s package.json`)
        if (sibling.file === undefined) throw new Error(`${manifest.name}: ${dep}'s tarball is not written yet`)
        deps[dep] = `file:./${sibling.file}`
        rewritten.add(dep)
      } else if (workspace.has(dep))
        throw new Error(`${manifest.name} depends on ${dep}, which is private and so not packed: make ${dep} public or drop the dependency`)
    }
    // pnpm pack writes a manifest's dependencies in no fixed order: sorted, the same content hashes the same
    if (deps) manifest[field] = Object.fromEntries(Object.entries(deps).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
  }
  return [...rewritten].sort()
}

/** The @skyward packages a packed manifest depends on, among those packed (itself excluded). */
const packedDependencies = (manifest, packed) =>
  DEPENDENCY_FIELDS.flatMap((f) => Object.keys(manifest[f] ?? {})).filter((dep) => dep !== manifest.name && packed.has(dep))

/**
 * Turns pnpm's tarballs into ones that install from their folder (see the top of this file):
 * dependencies first, each one's package.json is rewritten by {@link pointAtSiblings} and the
 * tarball written into `out` as `skyward-core-0.1.0-<hash of its content>.tgz`.
 * @param {string} from the folder of pnpm's tarballs
 * @param {WorkspacePackage[]} packages the packed packages
 * @param {Set<string>} workspace the names of every workspace package
 * @param {string} out the folder to write into (existing)
 * @returns {Tarball[]} what it wrote, in the order of `packages`
 */
export const siblingTarballs = (from, packages, workspace, out) => {
  /** @type {Map<string, { name: string, version: string, file?: string }>} */
  const packed = new Map(packages.map((p) => [p.name, { name: p.name, version: p.version }]))
  const pending = new Map(
    packages.map((p) => {
      const tgz = path.join(from, tarballName(p))
      return [p.name, { pkg: p, tgz, manifest: JSON.parse(readEntry(tgz, "package/package.json")) }]
    })
  )
  /** @type {Map<string, Tarball>} */
  const written = new Map()
  while (pending.size > 0) {
    const ready = [...pending.values()].filter(({ manifest }) => packedDependencies(manifest, packed).every((dep) => written.has(dep)))
    if (ready.length === 0) throw new Error(`the @skyward packages ${[...pending.keys()].join(", ")} depend on each other in a cycle: break it`)
    for (const { pkg, tgz, manifest } of ready) {
      const siblings = pointAtSiblings(manifest, packed, workspace)
      const staged = path.join(out, `${tarballName(pkg)}.partial`)
      writeWithEntry(tgz, "package/package.json", `${JSON.stringify(manifest, null, 2)}\n`, staged)
      const content = fs.readFileSync(staged)
      const hash = crypto.createHash("sha256").update(content).digest("hex").slice(0, 8)
      const file = path.join(out, tarballName(pkg).replace(/\.tgz$/, `-${hash}.tgz`))
      fs.renameSync(staged, file)
      packed.get(pkg.name).file = path.basename(file)
      written.set(pkg.name, { name: pkg.name, version: pkg.version, file, bytes: content.length, siblings })
      pending.delete(pkg.name)
    }
  }
  return packages.map((p) => written.get(p.name))
}
