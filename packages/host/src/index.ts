/**
 * @skyward/host: what Skyward's packages need of the machine they run on: running a command (and
 * every process it starts) as a scoped Effect, private temporary folders, Skyward's cache folder,
 * the Python interpreters on PATH, and files' content hashes. Shared by Skyward's own packages; not
 * an API for others (it may change in any release).
 * @packageDocumentation
 */
export { cacheRoot } from "./internal/cache.js"
export { sha256File } from "./internal/hash.js"
export { processExists } from "./internal/process.js"
export { findLocalPython, pythonAt, type LocalPython } from "./internal/python.js"
export { runCommand, type CommandResult } from "./internal/shell.js"
export { ownedTempDir } from "./internal/temp-dir.js"
