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

/** Starts the agent on an exec channel of an open connection (scoped). */
export { agentCommand, startRemoteAgent } from "./internal/agent-channel.js"
/** Bootstraps a node over an open connection; see `SshTransportOptions.install`. */
export { bootstrapNode, hashModuleDir } from "./internal/bootstrap.js"
export type { InstallMode, RemoteBootstrapOptions } from "./internal/bootstrap-options.js"
/** Opens a verified, authenticated SSH connection (scoped), with retries for transient failures. */
export { openSsh, type SshConnection } from "./internal/connect.js"
/** The tagged errors of this package. */
export { SshAuthError, SshChannelError, SshConnectError, SshHostKeyError, SshKeyError, type SshOpenError } from "./internal/errors.js"
/** Runs commands over an open connection. */
export { exec, execChecked, shellQuote, type ExecResult } from "./internal/exec.js"
/** Host-key checking: fingerprints, known_hosts parsing and the verification the connection uses. */
export { fingerprint, knownHostName, parseKnownHosts, verifyHostKey, type HostKeyPolicy, type KnownHostEntry } from "./internal/host-keys.js"
/** Loads a private key (file, in-memory text, or the defaults). */
export { loadKey, type LoadedKey } from "./internal/keys.js"
/** Connection targets and options. */
export { describeTarget, skywardKnownHostsFile, type SshConnectOptions, type SshKey, type SshTarget } from "./internal/options.js"
/** SFTP helpers: sessions, single files, folders. */
export { listFiles, openSftp, putFile, uploadTree, type Sftp } from "./internal/sftp.js"
/** The Transport service over SSH. */
export { defaultTargetOf, makeSshTransport, SshTransportLayer, type SshTransportOptions } from "./internal/transport.js"
/** The client-side wheelhouse nodes install from. */
export { ensureWheelhouse, linuxPlatforms, WheelhouseError, type Wheelhouse, type WheelPlatform } from "./internal/wheelhouse.js"
