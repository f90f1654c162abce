import { fileURLToPath } from "node:url"
import type { PythonModuleDir } from "@skyward/contracts"

/** The agent's own Python package (`skyward_worker`), shipped in this package's `python/` folder, alone. */
export const agentModules = (): PythonModuleDir => ({
  name: "skyward_worker",
  path: fileURLToPath(new URL("../../python", import.meta.url))
})
