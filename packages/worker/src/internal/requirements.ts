import { mirroredPip, type Image } from "@skyward/contracts"

/** Python packages the agent needs in every environment, besides the Image's own. */
export const AGENT_REQUIREMENTS: ReadonlyArray<string> = ["cloudpickle>=3.0", "cbor2>=5.6", "lz4>=4.3"]

/** Every requirement a node's environment installs: the agent's own, the Image's `pip`, then its mirror. */
export const installRequirements = (image: Image): string[] => [...AGENT_REQUIREMENTS, ...image.pip, ...mirroredPip(image)]

/**
 * `env` for a pip that must also look in `indexes`: they go in `PIP_EXTRA_INDEX_URL` (after any
 * already there), not on pip's command line, which every user of the machine can read; an index
 * URL may hold a password.
 */
export const withPipIndexes = (env: NodeJS.ProcessEnv, indexes: ReadonlyArray<string>): NodeJS.ProcessEnv =>
  indexes.length === 0 ? env : { ...env, PIP_EXTRA_INDEX_URL: [env.PIP_EXTRA_INDEX_URL ?? "", ...indexes].join(" ").trim() }
