import { Effect } from "effect"
import type { AgentLink } from "./agent-link.js"

/** What the watch needs of a link: when it last heard from the agent, and how to declare it lost. */
export type WatchedLink = Pick<AgentLink, "lastSeen" | "isClosed" | "lost">

/**
 * Agents beat 4 times per `heartbeatTimeout` (at most once a second), and the watch looks as
 * often: a silent node is lost within the timeout plus one beat, and a short timeout does not
 * mistake a live agent for a dead one.
 */
export const heartbeatInterval = (timeoutSeconds: number): number => Math.min(1, timeoutSeconds / 4)

/**
 * Declares a node lost once it has been silent for `timeoutSeconds` of the time this process ran.
 * A tick that comes much later than scheduled means the process was not run (suspended with
 * Ctrl-Z, a laptop asleep, a blocked event loop): the agents' beats of that time wait unread in the
 * pipes, so a tick counts at most two intervals of silence, however long the process was away.
 * `links` may grow while it watches (an elastic pool's nodes joining).
 */
export const heartbeatWatch = (links: ReadonlyArray<WatchedLink>, timeoutSeconds: number): Effect.Effect<never> =>
  Effect.suspend(() => {
    const intervalMs = heartbeatInterval(timeoutSeconds) * 1000
    const timeoutMs = timeoutSeconds * 1000
    let lastTick = Date.now()
    /** Milliseconds of silence witnessed, per node. */
    const silence = new Map(links.map((link) => [link, lastTick - link.lastSeen]))
    const tick = Effect.sync(() => {
      const now = Date.now()
      const witnessed = Math.min(now - lastTick, 2 * intervalMs)
      for (const link of links) {
        if (link.isClosed) continue
        // heard from since the last tick: silent since then, within what this tick witnessed
        const silent = link.lastSeen > lastTick ? Math.min(now - link.lastSeen, witnessed) : (silence.get(link) ?? 0) + witnessed
        silence.set(link, silent)
        if (silent > timeoutMs) link.lost(`no heartbeat for ${timeoutSeconds}s`)
      }
      lastTick = now
    })
    return Effect.forever(Effect.zipRight(Effect.sleep(`${Math.round(intervalMs)} millis`), tick))
  })
