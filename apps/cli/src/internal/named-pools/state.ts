import fs from "node:fs"
import os from "node:os"
import path from "node:path"
import type { NodePrice } from "@skyward/contracts"
import { processExists } from "@skyward/host"

/**
 * Where named pools (`skyward up`) are found: one private folder per pool under the user's state
 * folder, `$XDG_STATE_HOME/skyward/pools/<name>/` (`~/.local/state/...` by default). The folders
 * are 0700 and their files 0600: another Unix user can neither list a pool nor read its token.
 */

/** How a client reaches a pool: what `skyward up --json` prints when ready and `skyward attach` prints. */
export interface PoolConnection {
  readonly name: string
  readonly totalSlots: number
  /** The bridge's socket and token (SKYWARD_BRIDGE, SKYWARD_TOKEN) and the pool's own variables. */
  readonly env: Readonly<Record<string, string>>
  readonly pythonPath: ReadonlyArray<string>
  readonly imports: ReadonlyArray<string>
}

/** A named pool's record, written once it is ready. */
export interface PoolRecord {
  readonly name: string
  /** The process that holds the pool (`skyward up --foreground`). */
  readonly pid: number
  readonly provider: string
  readonly nodes: number
  readonly created: string
  /** Milliseconds without use after which the pool closes itself; undefined: never. */
  readonly idleMs: number | undefined
  /** The folder that travelled to the nodes as the tasks' working directory, if any. */
  readonly workdir: string | undefined
  /** The Python that runs scripts on this pool when no virtual environment is active. */
  readonly python: string
  /** Folders after the user's PYTHONPATH with what the bridge needs and the client's environment lacks. */
  readonly clientPath: ReadonlyArray<string>
  /** EC2 instance types of the nodes (aws only). */
  readonly instanceTypes: ReadonlyArray<string>
  /** The URL of the pool's live dashboard (on 127.0.0.1), its token included. */
  readonly dashboard: string
  /** What the nodes cost together, when the provider knows every node's price (aws). */
  readonly price?: PoolPrice
  readonly connection: PoolConnection
}

/** What a pool's nodes cost together (`nodesPrice`), and since when. */
export interface PoolPrice extends NodePrice {
  /** Since when it costs (ISO time): when the pool began opening, before its machines launched. */
  readonly since: string
}

/** What a pool is doing, rewritten while it runs. */
export interface PoolStatus {
  readonly totalSlots: number
  readonly busySlots: number
  readonly queued: number
  readonly clients: number
  /** When a task last ran or a client last attached (ISO time). */
  readonly lastUsed: string
  /** Nodes in the pool now (an elastic pool's change). */
  readonly nodes?: number
  /** Bytes sent to the nodes and received from them so far (the pool's `traffic`). */
  readonly traffic?: { readonly sentBytes: number; readonly receivedBytes: number }
  /** For a priced pool: its price now (null: unknown), and what it had cost at `costAt` (ISO time). */
  readonly cost?: { readonly usdPerHour: number | null; readonly usd: number; readonly at: string }
}

/** A pool as `skyward ls` shows it. */
export interface NamedPool {
  readonly record: PoolRecord
  readonly status: PoolStatus | undefined
}

/** Names are a word of letters, digits, `-`, `_` and `.` (a folder name, a shell word). */
const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/

/** Why `name` cannot name a pool, or undefined when it can. */
export const nameProblem = (name: string): string | undefined =>
  NAME_PATTERN.test(name) ? undefined : `pool name ${JSON.stringify(name)}: use 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit`

/** The folder holding every named pool's folder. */
export const poolsDir = (): string =>
  path.join(path.resolve(process.env.XDG_STATE_HOME || path.join(os.homedir(), ".local", "state")), "skyward", "pools")

/** The folder of the pool `name`. */
export const poolDir = (name: string): string => path.join(poolsDir(), name)

/** The log of a pool started in the background (next to its folder, so that it outlives a failed start). */
export const poolLog = (name: string): string => path.join(poolsDir(), `${name}.log`)

const RECORD = "pool.json"
const STATUS = "status.json"
const OWNER = "owner"

/** Makes `dir` (and its parents) and keeps it private: 0700, owned by this user. */
export const privateDir = (dir: string): void => {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  const stat = fs.statSync(dir)
  if (process.getuid !== undefined && stat.uid !== process.getuid())
    throw new Error(`${dir} belongs to another user: Skyward keeps its pools in a folder of yours (set XDG_STATE_HOME to choose another)`)
  if ((stat.mode & 0o077) !== 0) fs.chmodSync(dir, 0o700)
}

/** Writes `value` as JSON to `file` (0600), replacing it at once. */
const writeJson = (file: string, value: unknown): void => {
  const partial = `${file}.${process.pid}.tmp`
  fs.writeFileSync(partial, JSON.stringify(value), { mode: 0o600 })
  fs.renameSync(partial, file)
}

const readJson = <A>(file: string): A | undefined => {
  try {
    return JSON.parse(fs.readFileSync(file, "utf8")) as A
  } catch {
    return undefined
  }
}

const ownerOf = (dir: string): number | undefined => {
  const text = (() => {
    try {
      return fs.readFileSync(path.join(dir, OWNER), "utf8")
    } catch {
      return undefined
    }
  })()
  const pid = Number(text)
  return text === undefined || !Number.isInteger(pid) || pid <= 0 ? undefined : pid
}

/** Removes a pool's folder and its log. */
export const removePool = (name: string): void => {
  fs.rmSync(poolDir(name), { recursive: true, force: true })
  fs.rmSync(poolLog(name), { force: true })
}

/** Removes a pool's folder only (a failed start's log is the starter's to read and remove). */
export const releaseName = (name: string): void => fs.rmSync(poolDir(name), { recursive: true, force: true })

/**
 * Claims `name` for this process: its folder is made (atomically) with this process as its owner.
 * A folder whose owner has died is taken over; one whose owner lives is refused (false).
 */
export const claimName = (name: string): boolean => {
  privateDir(poolsDir())
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.mkdirSync(poolDir(name), { mode: 0o700 })
      fs.writeFileSync(path.join(poolDir(name), OWNER), String(process.pid), { mode: 0o600 })
      return true
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error
      const owner = ownerOf(poolDir(name))
      if (owner !== undefined && processExists(owner)) return false
      // a folder whose owner was killed, or one being made right now (no owner file yet): a dead one goes
      if (owner === undefined && Date.now() - fs.statSync(poolDir(name)).mtimeMs < 5_000) return false
      fs.rmSync(poolDir(name), { recursive: true, force: true })
    }
  }
  return false
}

/** Writes the ready pool's record. */
export const writeRecord = (record: PoolRecord): void => writeJson(path.join(poolDir(record.name), RECORD), record)

/** Writes the pool's status (nothing once the pool's folder is gone: it is closing). */
export const writeStatus = (name: string, status: PoolStatus): void => {
  if (fs.existsSync(poolDir(name))) writeJson(path.join(poolDir(name), STATUS), status)
}

/**
 * The pool `name` when it is up (ready, its process alive); undefined otherwise. A folder whose
 * process died (killed, machine restarted) is removed on the way.
 */
export const findPool = (name: string): NamedPool | undefined => {
  if (nameProblem(name) !== undefined) return undefined
  const dir = poolDir(name)
  const owner = ownerOf(dir)
  if (owner === undefined) return undefined
  if (!processExists(owner)) {
    removePool(name)
    return undefined
  }
  const record = readJson<PoolRecord>(path.join(dir, RECORD))
  return record === undefined ? undefined : { record, status: readJson<PoolStatus>(path.join(dir, STATUS)) }
}

/** The named pools that are up, by name (dead ones removed on the way). */
export const listPools = (): NamedPool[] => {
  let names: string[]
  try {
    names = fs.readdirSync(poolsDir(), { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch {
    return []
  }
  return names
    .sort()
    .map(findPool)
    .filter((p): p is NamedPool => p !== undefined)
}

/** Whether the pool `name` is being made or is up (its folder's owner lives). */
export const nameTaken = (name: string): boolean => {
  const owner = ownerOf(poolDir(name))
  return owner !== undefined && processExists(owner)
}

/** The first free name `<prefix>-1`, `<prefix>-2`, ... */
export const freeName = (prefix: string): string => {
  for (let n = 1; ; n++) if (!nameTaken(`${prefix}-${n}`)) return `${prefix}-${n}`
}
