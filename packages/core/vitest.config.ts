import { skywardTestConfig } from "../../vitest.shared"

// Two files at a time: each file has its own private TMPDIR and run marker (vitest.private-tmp.ts),
// so its leak checks see only what it made; most of the files' time is waiting on pools and
// venvs (63 s one at a time, 31 s two at a time on 2 cores).
export default skywardTestConfig({ setupFiles: ["../../vitest.private-tmp.ts"], fileParallelism: true, maxWorkers: 2, minWorkers: 1 })
