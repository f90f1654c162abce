/**
 * @skyward/worker: the Python worker agent every node runs (`python -m skyward_worker`, in this
 * package's `python/` folder, which ships to the nodes alone), and what a node's environment must
 * install for it: the agent's requirements, the Image's, and the mirror of the client's
 * environment, where a mirrored package a node cannot have is left out with a note.
 *
 * ```ts
 * import { agentModules, installRequirements } from "@skyward/worker"
 * ```
 * @packageDocumentation
 */
export { agentModules } from "./internal/agent.js"
export { AGENT_REQUIREMENTS, installRequirements, withPipIndexes } from "./internal/requirements.js"
export { ENV_ON_INPUT_FLAG, envInputLine } from "./internal/env-input.js"
export { droppedNote, runDroppingUnavailable, unavailableProject, type MirroredInstall, type PipAttempt } from "./internal/unavailable.js"
