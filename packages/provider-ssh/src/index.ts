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

/** The provider factory and its options. */
export { ssh, type SshProviderOptions } from "./internal/provider.js"
/** One host of `SshProviderOptions.hosts`, and the parser of the CLI's `--hosts` (`[user@]host[:port],...`). */
export { parseHostList, type SshHost } from "./internal/hosts.js"
