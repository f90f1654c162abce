import { isolateAwsEnvironment } from "./support/moto.js"

// Client-side caches (wheelhouses) live in the repository's test cache (vitest.shared.ts).
delete process.env.SKYWARD_CACHE_DIR
delete process.env.SSH_AUTH_SOCK
// The SDK must never reach real AWS: fake credentials, no instance metadata, no profile files.
isolateAwsEnvironment()
