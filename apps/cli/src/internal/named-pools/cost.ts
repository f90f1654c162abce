import type { NodeInfo, NodePrice } from "@skyward/contracts"
import type { PoolPrice } from "./state.js"

/** Dollars as people read them: `$0.0850`, `$1.23`, `$412`. */
export const formatUsd = (usd: number): string => `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 4)}`

/** What a pool has cost from `price.since` to `now` (ms), in USD. */
export const costSoFar = (price: PoolPrice, now: number): number => (price.usdPerHour * Math.max(0, now - Date.parse(price.since))) / 3_600_000

/** What the nodes cost together per hour, when each has a price (EC2's do); undefined otherwise. */
export const nodesPrice = (nodes: ReadonlyArray<NodeInfo>): Omit<PoolPrice, "since"> | undefined => {
  const prices = nodes.map((n) => n.price)
  if (nodes.length === 0 || !prices.every((p): p is NodePrice => p !== undefined)) return undefined
  return { usdPerHour: prices.reduce((sum, p) => sum + p.usdPerHour, 0), source: [...new Set(prices.map((p) => p.source))].join("; ") }
}

/** The line (and JSON fields) `skyward run` ends with on priced nodes: the total and the cost per task. */
export const runCostReport = (price: PoolPrice, now: number, tasks: number): { readonly text: string; readonly fields: object } => {
  const usd = costSoFar(price, now)
  const minutes = (now - Date.parse(price.since)) / 60_000
  const perTask = tasks > 0 ? usd / tasks : undefined
  return {
    text:
      `cost: about ${formatUsd(usd)} (${formatUsd(price.usdPerHour)}/hour for ${minutes.toFixed(1)} min; ${price.source})` +
      (perTask === undefined ? "" : `, ${formatUsd(perTask)} per task (${tasks} tasks)`),
    fields: { usd, usdPerHour: price.usdPerHour, minutes, tasks, usdPerTask: perTask ?? null, priceSource: price.source }
  }
}
