import type { PoolPrice } from "./state.js"

/** Dollars as people read them: `$0.0850`, `$1.23`, `$412`. */
export const formatUsd = (usd: number): string => `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 4)}`

/** What a pool has cost from `price.since` to `now` (ms), in USD. */
export const costSoFar = (price: PoolPrice, now: number): number => (price.usdPerHour * Math.max(0, now - Date.parse(price.since))) / 3_600_000

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
