import { Effect, Option } from "effect"
import { UsageError } from "./errors.js"
import type { ProjectPool } from "./open-pool.js"

/**
 * Serves the dashboard of an open pool (`@skyward/dashboard`, loaded only when asked for) until
 * the scope closes; gives its URL, token included.
 */
export const serveDashboardOf = (opened: ProjectPool, name: string, port: Option.Option<number>) =>
  Effect.gen(function* () {
    const { serveDashboard } = yield* Effect.promise(() => import("@skyward/dashboard"))
    const { pool } = opened
    const nodes = pool.cluster.nodes
    const dashboard = yield* serveDashboard({
      name,
      provider: pool.cluster.provider,
      nodes,
      slotsPerNode: nodes.length === 0 ? 0 : Math.round(pool.totalSlots / nodes.length),
      nodeInfo: (index) => pool.cluster.nodes.find((node) => node.index === index),
      traffic: () => pool.traffic,
      subscribe: pool.subscribe,
      ...Option.match(port, { onNone: () => ({}), onSome: (p) => ({ port: p }) })
    }).pipe(Effect.mapError((e) => new UsageError({ message: `--dashboard-port: ${e.message}` })))
    return dashboard.url
  })
