import { Effect } from "effect"
import { mirroredPip, projectName, type Image } from "@skyward/contracts"
import { installRequirements } from "./requirements.js"

/** How one pip run ended: its exit code and the last lines of its output. */
export interface PipAttempt {
  readonly code: number | null
  readonly tail: string
}

/** A pip run in which mirrored requirements that cannot be had were left out. */
export interface MirroredInstall<A extends PipAttempt> {
  /** The last run: a success, or a failure no mirrored requirement explains. */
  readonly attempt: A
  /** The mirrored requirements left out, in the order they were found. */
  readonly dropped: ReadonlyArray<string>
}

const UNAVAILABLE = [/No matching distribution found for (\S+)/, /Could not find a version that satisfies the requirement (\S+)/]

/** The project pip found no distribution of (no such version, no wheel for the platform), from its output. */
export const unavailableProject = (output: string): string | undefined => {
  for (const pattern of UNAVAILABLE) {
    const found = pattern.exec(output)?.[1]
    if (found !== undefined) return projectName(found)
  }
  return undefined
}

/**
 * Runs pip (`run`, given the requirements to install or download) for an Image. When it fails for
 * want of a distribution of a mirrored requirement (the client has it, the node's platform has no
 * wheel of it), that requirement is left out and pip runs again: a mirror is as close as the node
 * allows, where the Image's own `pip` must install exactly.
 */
export const runDroppingUnavailable = <A extends PipAttempt, E, R>(
  image: Image,
  run: (requirements: ReadonlyArray<string>) => Effect.Effect<A, E, R>
): Effect.Effect<MirroredInstall<A>, E, R> =>
  Effect.gen(function* () {
    const dropped: string[] = []
    const mirrored = mirroredPip(image)
    for (;;) {
      const attempt = yield* run(installRequirements(image).filter((r) => !dropped.includes(r)))
      if (attempt.code === 0) return { attempt, dropped }
      const project = unavailableProject(attempt.tail)
      const culprit = mirrored.find((r) => projectName(r) === project && !dropped.includes(r))
      if (culprit === undefined) return { attempt, dropped }
      dropped.push(culprit)
    }
  })

/** The note for a mirrored requirement a node goes without: `pandas==2.2.3: no wheel for ...; the workers run without it`. */
export const droppedNote = (requirement: string, where: string): string =>
  `${requirement} (installed on the client) has no distribution for ${where}: the workers run without it`
