/** How nodes get their Python packages. */
export type InstallMode = "wheelhouse" | "index"

/** Bootstrap settings of the SSH transport. */
export interface RemoteBootstrapOptions {
  /**
   * "wheelhouse" (default): the client downloads wheels once for the node's platform and uploads
   * them; nodes install with no index (they need no internet). "index": each node runs pip
   * against the Image's indexes itself.
   */
  readonly install: InstallMode
  /** Skyward's folder on the host; relative paths are under the login's home. Default `.cache/skyward`. */
  readonly remoteRoot: string
}
