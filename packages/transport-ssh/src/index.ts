/**
 * @skyward/transport-ssh: Skyward's `Transport` over SSH (ssh2). Connects with a key (file or in
 * memory, ed25519 or RSA), optionally through a jump host, verifies host keys (pinned, known_hosts,
 * or trust-on-first-use when asked), keeps connections alive, bootstraps each host's Python
 * environment from a wheelhouse shipped by the client, and runs the agent on an exec channel.
 *
 * ```ts
 * import { SshTransportLayer } from "@skyward/transport-ssh"
 * const transport = SshTransportLayer({ connectTimeout: 20, trustOnFirstUse: false })
 * ```
 * @packageDocumentation
 */

/** The Transport service over SSH, as a layer, and its options. */
export { SshTransportLayer, type SshTransportOptions } from "./internal/transport.js"
/** Where and how to reach one machine (`node.data.ssh`), and the private keys it may name. */
export type { SshKey, SshTarget } from "./internal/options.js"
/** Loads a private key (file, in-memory text, or the defaults): providers check keys with it before connecting. */
export { loadKey } from "./internal/keys.js"
/** The tagged errors of this package (the `cause` of the pool's `TransportError` and `BootstrapError`). */
export { SshAuthError, SshChannelError, SshConnectError, SshHostKeyError, SshKeyError } from "./internal/errors.js"
/** The client could not build the wheelhouse nodes install from. */
export { WheelhouseError } from "./internal/wheelhouse.js"
