import { skywardTestConfig } from "../../vitest.shared"

// the faults share this machine's processes, namespaces and cgroups: one file, one test at a time
export default skywardTestConfig({ setupFiles: ["test/setup.ts"], sequence: { concurrent: false } })
