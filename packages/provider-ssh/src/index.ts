/**
 * @skyward/provider-ssh: "bring your own machines". A Skyward `Provider` over a fixed list of
 * hosts reached by SSH (through `@skyward/transport-ssh`).
 *
 * ```ts
 * import { ComputePool } from "@skyward/core"
 * import { ssh } from "@skyward/provider-ssh"
 * await ComputePool.use({ provider: ssh({ hosts: ["alice@10.0.0.5", "alice@10.0.0.6"] }), nodes: 2 }, (pool) => pool.map("m:f", [1, 2]))
 * ```
 * @packageDocumentation
 */

/** Host lists: the `SshHost` type and the parsers of `[user@]host[:port]` used by the CLI's `--hosts`. */
export { parseHostList, parseHostSpec, type SshHost } from "./internal/hosts.js"
/** The provider factory and its options. */
export { resolveHosts, ssh, type SshProviderOptions } from "./internal/provider.js"
