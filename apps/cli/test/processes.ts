import fs from "node:fs"

/** Pids of live processes whose environment contains `marker` (e.g. a `--env` the test passed). */
export const processesMarked = (marker: string): number[] =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, "latin1").includes(marker)
      } catch {
        return false
      }
    })
