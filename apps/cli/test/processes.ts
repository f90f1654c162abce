import fs from "node:fs"

const pidsWhose = (file: "environ" | "cmdline", marker: string): number[] =>
  fs
    .readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .map(Number)
    .filter((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/${file}`, "latin1").includes(marker)
      } catch {
        return false
      }
    })

/** Pids of live processes whose environment contains `marker` (e.g. a `--env` the test passed). */
export const processesMarked = (marker: string): number[] => pidsWhose("environ", marker)

/** Pids of live processes of any user whose command line (what `ps` shows everyone) contains `marker`. */
export const processesShowing = (marker: string): number[] => pidsWhose("cmdline", marker)
