import { randomBytes } from "node:crypto"
import fs from "node:fs/promises"
import os from "node:os"
import path from "node:path"
import { Effect } from "effect"
import lockfile from "proper-lockfile"
import { processExists } from "@skyward/host"

/** Who holds a build lock: written into the lock folder once it is taken. */
interface LockOwner {
  readonly pid: number
  readonly host: string
  /** The pool node building (a run's other nodes wait for it). */
  readonly node: number
}

/** The lock folder of `dir` (made by proper-lockfile) and, inside it, who holds it. */
const lockDirOf = (dir: string) => `${dir}.lock`
const OWNER_FILE = "owner.json"

/** A lock not refreshed for this long is stale, whoever holds it: an owner on another machine, a reused pid. */
const STALE_MS = 30_000
/** How often the holder refreshes its lock (proper-lockfile touches the folder). */
const REFRESH_MS = 5_000
/** How often a waiting build looks at the lock again. */
const POLL_MS = 200

const asError = (cause: unknown): Error => (cause instanceof Error ? cause : new Error(String(cause)))

const readOwner = (lockDir: string): Promise<LockOwner | undefined> =>
  fs.readFile(path.join(lockDir, OWNER_FILE), "utf8").then(
    (text) => JSON.parse(text) as LockOwner,
    () => undefined // not written yet, or a lock of an older Skyward
  )

/** Written whole or not at all: a waiting build never reads half an owner. */
const writeOwner = async (lockDir: string, owner: LockOwner): Promise<void> => {
  const partial = path.join(lockDir, `${OWNER_FILE}.${randomBytes(4).toString("hex")}`)
  await fs.writeFile(partial, JSON.stringify(owner))
  await fs.rename(partial, path.join(lockDir, OWNER_FILE))
}

/** Takes the lock on `dir` if it is free: the release, or undefined while someone holds it. */
const tryLock = async (dir: string, node: number): Promise<(() => Promise<void>) | undefined> => {
  let release: () => Promise<void>
  try {
    // staleness is judged here (below), by the owner's pid first: proper-lockfile only keeps the lock fresh
    release = await lockfile.lock(dir, { realpath: false, stale: Number.MAX_SAFE_INTEGER, update: REFRESH_MS, retries: 0, onCompromised: () => undefined })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ELOCKED") return undefined
    throw error
  }
  const lockDir = lockDirOf(dir)
  const { mtime } = await fs.stat(lockDir)
  await writeOwner(lockDir, { pid: process.pid, host: os.hostname(), node })
  // proper-lockfile stops refreshing a lock whose mtime it did not set (the owner file changed it),
  // and a lock not refreshed looks stale to the next build after 30 s: give it back its mtime
  await fs.utimes(lockDir, mtime, mtime)
  return async () => {
    await fs.rm(path.join(lockDir, OWNER_FILE), { force: true })
    await release().catch(() => undefined)
  }
}

/** The lock as a waiting build sees it. */
interface Holder {
  readonly owner: LockOwner | undefined
  /** True when it can be taken: its owner is gone, or it was not refreshed for {@link STALE_MS}. */
  readonly stale: boolean
  /** Milliseconds since it was taken or last refreshed. */
  readonly ageMs: number
}

const inspect = async (lockDir: string): Promise<Holder | undefined> => {
  const stat = await fs.stat(lockDir).catch(() => undefined)
  if (stat === undefined) return undefined // released meanwhile
  const owner = await readOwner(lockDir)
  const ownerGone = owner !== undefined && owner.host === os.hostname() && !processExists(owner.pid)
  const ageMs = Date.now() - stat.mtimeMs
  return { owner, stale: ownerGone || ageMs > STALE_MS, ageMs }
}

/** Moves a stale lock aside, then removes it: of two builds that found it stale, one takes it. */
const removeStale = async (lockDir: string): Promise<void> => {
  const aside = `${lockDir}.stale-${process.pid}-${randomBytes(4).toString("hex")}`
  if (await fs.rename(lockDir, aside).then(() => true, () => false)) await fs.rm(aside, { recursive: true, force: true })
}

/** What a build waiting for the lock held by `owner` says. */
const waitingLine = (owner: LockOwner | undefined, dir: string): string => {
  if (owner === undefined) return `waiting for another Skyward run building ${dir}`
  if (owner.pid === process.pid && owner.host === os.hostname()) return `waiting for node ${owner.node} building ${dir}`
  const where = owner.host === os.hostname() ? "" : ` on ${owner.host}`
  return `waiting for another Skyward run (pid ${owner.pid}${where}) building ${dir}`
}

/**
 * Runs `use` holding the build lock on `dir` (the folder `<dir>.lock`), waiting while another build
 * holds it and saying so through `onLine` (once per holder). A lock whose owner died is taken at
 * once; one not refreshed for 30 s is taken too (its owner on another machine stopped). The wait can
 * be interrupted; `use` runs and the lock is released as one scoped step.
 */
export const withBuildLock = <A, E>(
  dir: string,
  node: number,
  onLine: (line: string) => void,
  use: Effect.Effect<A, E>
): Effect.Effect<A, E | Error> =>
  Effect.gen(function* () {
    yield* Effect.tryPromise({ try: () => fs.mkdir(path.dirname(dir), { recursive: true }), catch: asError })
    let said: string | undefined
    for (;;) {
      const done = yield* Effect.acquireUseRelease(
        Effect.tryPromise({ try: () => tryLock(dir, node), catch: asError }),
        (release) => (release === undefined ? Effect.succeed(undefined) : Effect.map(use, (value) => ({ value }))),
        (release) => (release === undefined ? Effect.void : Effect.promise(release))
      )
      if (done !== undefined) return done.value
      const holder = yield* Effect.promise(() => inspect(lockDirOf(dir)))
      if (holder?.stale) {
        yield* Effect.promise(() => removeStale(lockDirOf(dir)))
        continue
      }
      // a lock without an owner is being taken right now, or is an older Skyward's: say so once it lasts
      const line = waitingLine(holder?.owner, dir)
      if (holder !== undefined && (holder.owner !== undefined || holder.ageMs > 1_000) && line !== said) onLine((said = line))
      yield* Effect.sleep(POLL_MS)
    }
  })

