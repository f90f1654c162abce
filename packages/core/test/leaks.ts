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

/** Pids of worker agents (`python -m skyward_worker`) that this test process started and are still running. */
export const agentPids = (): number[] =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        const cmdline = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8")
        return cmdline.includes("skyward_worker") && isDescendant(pid, process.pid)
      } catch {
        return false
      }
    })

/** Work folders of local nodes still on disk (in this test file's private TMPDIR, see vitest.private-tmp.ts). */
export const nodeWorkDirs = (): string[] => fs.readdirSync(os.tmpdir()).filter((name) => name.startsWith("skyward-node"))

/** Waits until no agent of ours is left (they get a short grace period to exit). */
export const waitForNoAgents = async (timeoutMs = 5_000): Promise<number[]> => {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const left = agentPids()
    if (left.length === 0 || Date.now() > deadline) return left
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
}
