// One file of an npm package tarball read or replaced, with node-tar. A replaced tarball is
// unpacked into a staging folder and packed again as npm packs (portable headers, npm's fixed
// mtime, files in sorted order): the same content always gives the same bytes, so the same hash.

import { Buffer } from "node:buffer"
import fs from "node:fs"
import path from "node:path"
import * as tar from "tar"

/** The mtime npm gives every entry of a package tarball. */
const NPM_MTIME = new Date("1985-10-26T08:15:00.000Z")

/** Every file under `dir`, relative to it, in sorted order. */
const filesUnder = (dir) =>
  fs
    .readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.relative(dir, path.join(entry.parentPath ?? entry.path, entry.name)))
    .sort()

/**
 * The content of one file of a tarball.
 * @param {string} tgz the tarball's path
 * @param {string} entry the file's path in it, e.g. `package/package.json`
 * @returns {string} its content
 */
export const readEntry = (tgz, entry) => {
  /** @type {Buffer[]} */
  const chunks = []
  let found = false
  tar.t({ file: tgz, sync: true, filter: (p) => p === entry, onReadEntry: (e) => ((found = true), e.on("data", (c) => chunks.push(c))) })
  if (!found) throw new Error(`no ${entry} in ${tgz}`)
  return Buffer.concat(chunks).toString("utf8")
}

/**
 * Writes to `out` the tarball `tgz` with the file `entry` (e.g. `package/package.json`) replaced by `content`.
 * @param {string} tgz the tarball's path
 * @param {string} entry the file's path in it
 * @param {string} content its new content
 * @param {string} out the new tarball's path
 */
export const writeWithEntry = (tgz, entry, content, out) => {
  // beside the tarball: a caller that removes the tarball's folder on interruption removes this too
  const stage = fs.mkdtempSync(path.join(path.dirname(tgz), ".stage-"))
  try {
    tar.x({ file: tgz, cwd: stage, sync: true, strict: true })
    const file = path.join(stage, entry)
    if (!fs.existsSync(file)) throw new Error(`no ${entry} in ${tgz}`)
    fs.writeFileSync(file, content)
    tar.c({ file: out, cwd: stage, sync: true, gzip: { level: 9 }, portable: true, mtime: NPM_MTIME, noDirRecurse: true }, filesUnder(stage))
  } finally {
    fs.rmSync(stage, { recursive: true, force: true })
  }
}
