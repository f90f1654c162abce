import os from "node:os"
import path from "node:path"

/**
 * Skyward's cache folder: `$SKYWARD_CACHE_DIR`, else `$XDG_CACHE_HOME/skyward`, else
 * `~/.cache/skyward`; absolute (agents start in their own work folders).
 */
export const cacheRoot = (): string =>
  path.resolve(process.env.SKYWARD_CACHE_DIR || path.join(process.env.XDG_CACHE_HOME || path.join(os.homedir(), ".cache"), "skyward"))
