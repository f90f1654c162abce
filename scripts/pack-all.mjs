#!/usr/bin/env node
/* global console, process */
// `npx -y pnpm@10 pack:all [--out DIR] [--no-build]`: builds the public (non-private) packages of
// the workspace and writes one tarball of each into dist-tarballs/ (or DIR), installable from any
// npm project with the @skyward packages it needs coming from the same folder:
//
//   npm install ~/skyward/dist-tarballs/skyward-core-*.tgz
//
// Each file name ends with a hash of its content (see scripts/lib/tarballs.mjs); the skyward-*.tgz
// of an earlier run are removed first, so that such a glob names one tarball.

import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import { fileURLToPath } from "node:url"
import { parseArgs } from "node:util"
import { pnpm, pnpmPack, siblingTarballs, workspacePackages } from "./lib/tarballs.mjs"

const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..")
const USAGE = "usage: npx -y pnpm@10 pack:all [--out DIR] [--no-build]"

/**
 * Parses the command line.
 * @param {string[]} argv the arguments after the script
 * @returns {{ out: string, build: boolean }} the folder to write into and whether to build first
 */
const options = (argv) => {
  try {
    const { values } = parseArgs({ args: argv, options: { out: { type: "string" }, "no-build": { type: "boolean" }, help: { type: "boolean" } } })
    if (values.help) {
      console.log(USAGE)
      process.exit(0)
    }
    // a relative --out is from the folder pnpm was called in (pnpm runs the script in the root)
    const from = process.env.npm_lifecycle_event === "pack:all" && process.env.INIT_CWD ? process.env.INIT_CWD : process.cwd()
    return { out: path.resolve(from, values.out ?? path.join(repo, "dist-tarballs")), build: !values["no-build"] }
  } catch (error) {
    throw new Error(`${/** @type {Error} */ (error).message}\n${USAGE}`)
  }
}

const kB = (bytes) => `${Math.max(1, Math.round(bytes / 1024))} kB`

const main = async () => {
  // `pnpm pack:all -- --out x` passes the `--` along
  const { out, build } = options(process.argv.slice(2).filter((a) => a !== "--"))
  const started = Date.now()
  const all = workspacePackages(repo)
  const packages = all.filter((p) => !p.private)
  if (packages.length === 0) throw new Error(`no public package in the workspace at ${repo}`)
  if (build) {
    if (!fs.existsSync(path.join(repo, "node_modules", ".bin", "turbo"))) {
      console.error("pack:all: installing the workspace's dependencies first (npx -y pnpm@10 install --frozen-lockfile)...")
      await pnpm(["install", "--frozen-lockfile"], repo)
    }
    console.error(`pack:all: building ${packages.length} packages (turbo; cached when nothing changed)...`)
    await pnpm(["exec", "turbo", "run", "build", ...packages.map((p) => `--filter=${p.name}`), "--output-logs=errors-only"], repo)
  }
  for (const p of packages)
    if (!fs.existsSync(path.join(p.dir, "dist")))
      throw new Error(`${p.name} is not built (no ${path.relative(repo, path.join(p.dir, "dist"))}/): run npx -y pnpm@10 pack:all without --no-build`)

  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "skyward-pack-all-"))
  const cleanUp = () => fs.rmSync(scratch, { recursive: true, force: true })
  const interrupted = () => {
    cleanUp()
    process.exit(130)
  }
  process.once("SIGINT", interrupted).once("SIGTERM", interrupted)
  try {
    const packed = path.join(scratch, "pnpm")
    fs.mkdirSync(packed)
    await pnpmPack(repo, packages, packed)
    fs.mkdirSync(out, { recursive: true })
    for (const old of fs.readdirSync(out)) if (/^skyward-.*\.tgz$/.test(old)) fs.rmSync(path.join(out, old))
    const written = siblingTarballs(packed, packages, new Set(all.map((p) => p.name)), out)

    const width = Math.max(...written.map((t) => t.name.length))
    const fileWidth = Math.max(...written.map((t) => path.basename(t.file).length))
    console.log(`pack:all: wrote ${written.length} tarballs, one per public package, to ${out} (${((Date.now() - started) / 1000).toFixed(1)}s):`)
    for (const t of written) console.log(`  ${t.name.padEnd(width)}  ${path.basename(t.file).padEnd(fileWidth)}  ${kB(t.bytes).padStart(6)}`)
    console.log(`not packed (private): ${all.filter((p) => p.private).map((p) => p.name).join(", ")}`)
    console.log(
      [
        "",
        "Install one in any npm project (its @skyward dependencies come from the same folder, nothing from the registry):",
        `  npm install ${out}/skyward-core-*.tgz`,
        `  npm install ${out}/skyward-cli-*.tgz    # then: npx skyward --help`
      ].join("\n")
    )
  } finally {
    cleanUp()
    process.off("SIGINT", interrupted).off("SIGTERM", interrupted)
  }
}

main().catch((error) => {
  console.error(`pack:all: ${error instanceof Error ? error.message : String(error)}`)
  process.exit(1)
})
