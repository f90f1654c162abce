import { skywardTestConfig } from "../../vitest.shared"

// Two files at a time: each file makes its own hosts (their own namespaces, users, random subnets
// and ports) and checks what they left; most of the files' time is waiting on sshd, pip and the
// network (74 s one at a time, 48 s two at a time on 2 cores).
export default skywardTestConfig({ setupFiles: ["test/setup.ts"], hookTimeout: 180_000, fileParallelism: true, maxWorkers: 2, minWorkers: 1 })
