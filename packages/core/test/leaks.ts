import fs from "node:fs"
import os from "node:os"

const parentOf = (pid: number): number | undefined => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1])
  } catch {
    return undefined
  }
}

const isDescendant = (pid: number, ancestor: number): boolean => {
  for (let current = parentOf(pid), hops = 0; current !== undefined && current > 1 && hops < 64; current = parentOf(current), hops++)
    if (current === ancestor) return true
  return false
}

const readNulSeparated = (file: string): string[] => {
  try {
    return fs.readFileSync(file, "utf8").split("\0").filter(Boolean)
  } catch {
    return [] // gone, or not ours to read
  }
}

/** This test file's private TMPDIR (see vitest.private-tmp.ts), with a trailing slash. */
const privateTmp = (): string => os.tmpdir().replace(/\/?$/, "/")

/**
 * True when `pid` was started by this test file: its environment carries this file's run marker
 * (`SKYWARD_TEST_RUN`, set by vitest.private-tmp.ts and inherited by agents, slots, pip...), or its
 * command line or environment names this file's private TMPDIR. Either survives re-parenting to
 * init, and neither matches another run's processes (each file has its own marker and folder).
 */
const startedByThisRun = (pid: number, environ: ReadonlyArray<string>, cmdline: ReadonlyArray<string>): boolean => {
  const marker = process.env.SKYWARD_TEST_RUN
  if (marker !== undefined && environ.includes(`SKYWARD_TEST_RUN=${marker}`)) return true
  const tmp = privateTmp()
  return [...environ, ...cmdline].some((entry) => entry.includes(tmp) || entry.endsWith(tmp.slice(0, -1)))
}

/** A process of this test file still running. */
export interface StrayProcess {
  readonly pid: number
  readonly command: string
}

/**
 * Processes this test file started that are still running, other than itself: worker agents
 * (`python -m skyward_worker`) below this process, and any process carrying this file's run marker
 * or private TMPDIR, which finds agents, slots and forkservers re-parented to init too. Zombies
 * (exited, not yet reaped) have no environment or command line and are not counted.
 */
export const strayProcesses = (): StrayProcess[] =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => pid !== process.pid)
    .flatMap((pid) => {
      const cmdline = readNulSeparated(`/proc/${pid}/cmdline`)
      if (cmdline.length === 0) return []
      const agent = cmdline.some((arg) => arg.includes("skyward_worker")) && isDescendant(pid, process.pid)
      return agent || startedByThisRun(pid, readNulSeparated(`/proc/${pid}/environ`), cmdline) ? [{ pid, command: cmdline.join(" ") }] : []
    })

/** Pids of the processes of {@link strayProcesses}. */
export const agentPids = (): number[] => strayProcesses().map((p) => p.pid)

/** What is in this test file's private TMPDIR (see vitest.private-tmp.ts): sockets, files, folders. */
export const tmpEntries = (): string[] => fs.readdirSync(os.tmpdir()).sort()

/** Work folders of local nodes still on disk (in this test file's private TMPDIR). */
export const nodeWorkDirs = (): string[] => tmpEntries().filter((name) => name.startsWith("skyward-node"))

/** Waits until no process of this test file is left (they get a short grace period to exit); `pid command` of the rest. */
export const waitForNoAgents = async (timeoutMs = 5_000): Promise<string[]> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = strayProcesses()
    if (left.length === 0 || Date.now() > deadline) return left.map((p) => `${p.pid} ${p.command}`)
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
