/**
 * @skyward/provider-local: the embedded default provider. `local()` makes a pool's nodes as agent
 * processes on this machine, each with its own slots, over the same protocol as remote nodes; their
 * Python environment is a virtual environment cached by the Image's hash, also what `skyward run`
 * runs a script in when no virtual environment of the user's is active.
 *
 * ```ts
 * import { local } from "@skyward/provider-local"
 * const provider = local({ python: "/usr/bin/python3.11" })
 * ```
 * @packageDocumentation
 */
export { prepareLocalEnvironment, type LocalEnvironment } from "./internal/environment.js"
export { environmentsDir, listEnvironments, removeEnvironment, type CachedEnvironment } from "./internal/env-cache.js"
export { local, type LocalOptions } from "./internal/provider.js"
