/**
 * @skyward/dashboard: a live dashboard of a pool in the browser. `serveDashboard` serves, on
 * 127.0.0.1 and behind a token, a page of the pool's nodes (state, slots, CPU, memory, heartbeat),
 * its tasks (rate, queue, each `Parallel` call's ETA), its last failures with their tracebacks, each
 * node's task output, a chart of busy slots, and for EC2 the price; the page is pushed the pool's
 * state over server-sent events.
 *
 * ```ts
 * import { Effect } from "effect"
 * import { serveDashboard } from "@skyward/dashboard"
 * const { url } = yield* serveDashboard({ name: "demo", provider: pool.cluster.provider, nodes: pool.cluster.nodes, subscribe: pool.subscribe })
 * ```
 * @packageDocumentation
 */

/** Serves the dashboard for as long as its scope lasts; its options, what it gives back, and its error. */
export { serveDashboard, DashboardError, type Dashboard, type DashboardOptions } from "./internal/server.js"
/** The state the page shows, folded from a pool's events (for programs that render it themselves). */
export { DashboardModel, type DashboardState, type NodeView, type ClientView, type CallView, type FailureView } from "./internal/state.js"
