import path from "node:path"
import { fileURLToPath } from "node:url"

// Client-side caches (wheelhouses, Skyward's known_hosts) live in the repository's test cache, so
// wheelhouses are reused across runs and nothing touches the user's ~/.cache.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
process.env.XDG_CACHE_HOME = path.join(repo, ".cache", "test")
delete process.env.SKYWARD_CACHE_DIR
delete process.env.SSH_AUTH_SOCK
