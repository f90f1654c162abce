import fs from "node:fs"

/** Whether `/proc` says `pid` has exited and waits for its parent to reap it (a zombie); false where there is no `/proc`. */
const isZombie = (pid: number): boolean => {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8")
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")
  } catch {
    return false
  }
}

/**
 * True while a process `pid` runs on this machine, also one of another user (which we may not
 * signal). One that has exited but is not yet reaped (a zombie) no longer runs.
 */
export const processExists = (pid: number): boolean => {
  try {
    process.kill(pid, 0)
    return !isZombie(pid)
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM" && !isZombie(pid)
  }
}
