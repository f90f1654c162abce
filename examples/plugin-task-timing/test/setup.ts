import path from "node:path"
import { fileURLToPath } from "node:url"

// Python environments are built once per clone and reused by every test file and run.
process.env.XDG_CACHE_HOME ??= path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../.cache/test")
