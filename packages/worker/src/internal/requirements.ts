import { mirroredPip, type Image } from "@skyward/contracts"

/** Python packages the agent needs in every environment, besides the Image's own. */
export const AGENT_REQUIREMENTS: ReadonlyArray<string> = ["cloudpickle>=3.0", "cbor2>=5.6", "lz4>=4.3"]

/** Every requirement a node's environment installs: the agent's own, the Image's `pip`, then its mirror. */
export const installRequirements = (image: Image): string[] => [...AGENT_REQUIREMENTS, ...image.pip, ...mirroredPip(image)]
