import fs from "node:fs"

/** What a pool left behind after it closed. Empty arrays mean nothing leaked. */
export interface Leaks {
  /** Processes (agents, their slot processes) still running. */
  readonly processes: ReadonlyArray<{ readonly pid: number; readonly command: string }>
  /** Paths (node work folders, paths the test named) still on disk. */
  readonly paths: ReadonlyArray<string>
}

/** Thrown by `withTestPool` when the pool left processes or files behind. */
export class LeakError extends Error {
  override readonly name = "LeakError"
  constructor(readonly leaks: Leaks) {
    super(
      [
        "the pool left resources behind after it closed:",
        ...leaks.processes.map((p) => `  process ${p.pid}: ${p.command}`),
        ...leaks.paths.map((p) => `  path ${p}`)
      ].join("\n")
    )
  }
}

const HAS_PROC = fs.existsSync("/proc/self/stat")

const statOf = (pid: number): { state: string; ppid: number } | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    const [state, ppid] = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
    return { state: state ?? "?", ppid: Number(ppid) }
  } catch {
    return undefined
  }
}

/** The command line of `pid` (empty when unknown). */
export const commandOf = (pid: number): string => {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean).join(" ")
  } catch {
    return ""
  }
}

/** True while `pid` runs (a zombie, already dead and waiting to be reaped, counts as gone). */
export const isAlive = (pid: number): boolean => {
  if (HAS_PROC) {
    const stat = statOf(pid)
    return stat !== undefined && stat.state !== "Z" && stat.state !== "X"
  }
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Every live process below `roots` in the process tree (Linux; empty elsewhere). */
export const descendantsOf = (roots: ReadonlyArray<number>): number[] => {
  if (!HAS_PROC || roots.length === 0) return []
  const parent = new Map<number, number>()
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue
    const stat = statOf(Number(name))
    if (stat) parent.set(Number(name), stat.ppid)
  }
  const wanted = new Set(roots)
  const found: number[] = []
  for (const pid of parent.keys()) {
    for (let p = parent.get(pid), hops = 0; p !== undefined && p > 1 && hops < 64; p = parent.get(p), hops++) {
      if (wanted.has(p)) {
        found.push(pid)
        break
      }
    }
  }
  return found
}

/** The working directory of `pid`, if it can be read. */
export const cwdOf = (pid: number): string | undefined => {
  try {
    return fs.readlinkSync(`/proc/${pid}/cwd`)
  } catch {
    return undefined
  }
}

/**
 * Waits up to `graceMs` for every pid to exit and every path to disappear, then reports what is
 * left. Only the given pids and paths are looked at, so other pools running on the same machine
 * (other test files, other people's runs) never count as a leak.
 */
export const findLeaks = async (
  watched: { readonly pids: Iterable<number>; readonly paths: Iterable<string> },
  graceMs = 5_000
): Promise<Leaks> => {
  const pids = [...new Set(watched.pids)]
  const paths = [...new Set(watched.paths)]
  const deadline = Date.now() + graceMs
  for (;;) {
    const processes = pids.filter(isAlive).map((pid) => ({ pid, command: commandOf(pid) }))
    const left = paths.filter((p) => fs.existsSync(p))
    if ((processes.length === 0 && left.length === 0) || Date.now() >= deadline) return { processes, paths: left }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
