import type { Image } from "@skyward/contracts"
import { droppedNote } from "@skyward/worker"
import type { HostFacts } from "./host-probe.js"
import { linuxPlatforms } from "./wheelhouse.js"

/** The Python and platform a node installs for, as notes name them: `Python 3.11 on manylinux_2_36_x86_64 (node 0, user@host:22)`. */
export const installTarget = (facts: HostFacts, node: number, where: string): string =>
  `Python ${facts.version[0]}.${facts.version[1]} on ${linuxPlatforms(facts.machine, facts.libc)[0]} (node ${node}, ${where})`

/** `3.11.7rc1` as `3.11.7`. */
const release = (version: string): string => /^\d+\.\d+\.\d+/.exec(version)?.[0] ?? version

/**
 * How the node differs from the client whose environment the Image mirrors: another Python patch
 * version (another minor fails the probe), and the mirrored requirements it goes without.
 */
export const mirrorNotes = (image: Image, facts: HostFacts, dropped: ReadonlyArray<string>, node: number, where: string): string[] => {
  if (image.mirror === undefined) return []
  const version = facts.version.join(".")
  const patch = release(image.mirror.python) === version ? [] : [`node ${node} (${where}): Python ${version}, the client runs ${image.mirror.python}`]
  return [...patch, ...dropped.map((requirement) => droppedNote(requirement, installTarget(facts, node, where)))]
}
