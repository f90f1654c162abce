// Client-side caches (wheelhouses, Skyward's known_hosts) live in the repository's test cache
// (vitest.shared.ts), and nothing may come from the user's SSH agent or cache settings.
delete process.env.SKYWARD_CACHE_DIR
delete process.env.SSH_AUTH_SOCK
