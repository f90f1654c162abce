import path from "node:path"
import { fileURLToPath } from "node:url"
import { isolateAwsEnvironment } from "./support/moto.js"

// Client-side caches (wheelhouses) live in the repository's test cache, reused across runs.
const repo = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..")
process.env.XDG_CACHE_HOME = path.join(repo, ".cache", "test")
delete process.env.SKYWARD_CACHE_DIR
delete process.env.SSH_AUTH_SOCK
// The SDK must never reach real AWS: fake credentials, no instance metadata, no profile files.
isolateAwsEnvironment()
