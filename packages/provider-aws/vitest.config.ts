import { skywardTestConfig } from "../../vitest.shared"

export default skywardTestConfig({ setupFiles: ["test/setup.ts"], hookTimeout: 180_000 })
