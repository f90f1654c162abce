import { createRequire } from "node:module"
import path from "node:path"
import { fileURLToPath } from "node:url"

const require = createRequire(import.meta.url)

/** A local folder of Python packages to put on the node's PYTHONPATH. */
export interface PythonModuleDir {
  /** Stable name, used as the folder name on remote nodes. */
  readonly name: string
  /** Absolute path of the folder on the client. */
  readonly path: string
}

/** Python packages the agent needs in every environment, besides the Image's own. */
export const AGENT_REQUIREMENTS: ReadonlyArray<string> = ["cloudpickle>=3.0", "cbor2>=5.6", "lz4>=4.3"]

/** The agent's own Python folder (`skyward_worker`), shipped inside this package. */
export const agentModules = (): PythonModuleDir => ({
  name: "skyward_worker",
  path: fileURLToPath(new URL("../../python", import.meta.url))
})

/** The wire codec's Python twin (`skyward_wire`), shipped inside `@skyward/codec`. */
export const codecModules = (): PythonModuleDir => ({
  name: "skyward_wire",
  path: path.join(path.dirname(require.resolve("@skyward/codec/package.json")), "python")
})
