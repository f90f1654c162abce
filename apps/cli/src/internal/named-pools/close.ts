import { processExists } from "@skyward/host"
import { Effect } from "effect"
import { removePool, type NamedPool } from "./state.js"

/** How long a pool gets to close (EC2 instances terminate, SSH agents stop) before its process is killed. */
const CLOSE_WAIT_MS = 120_000
const POLL_MS = 100

/** What closing a named pool came to. */
export interface Closed {
  readonly name: string
  /** False when the pool's process had to be killed (its remote agents exit as their connection drops; EC2 instances end by their ttl). */
  readonly clean: boolean
}

/**
 * Closes a named pool as Ctrl-C closes `skyward run`'s: SIGTERM to its process, which stops its
 * agents and releases its machines, then waits for it to exit.
 */
export const closePool = ({ record }: NamedPool): Effect.Effect<Closed> =>
  Effect.promise(async () => {
    try {
      process.kill(record.pid, "SIGTERM")
    } catch {
      removePool(record.name)
      return { name: record.name, clean: true }
    }
    const until = Date.now() + CLOSE_WAIT_MS
    while (processExists(record.pid) && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, POLL_MS))
    const clean = !processExists(record.pid)
    if (!clean) process.kill(record.pid, "SIGKILL")
    removePool(record.name)
    return { name: record.name, clean }
  })
