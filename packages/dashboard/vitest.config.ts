import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig({ setupFiles: ["../../vitest.private-tmp.ts"] })
