import { CostMeter } from "@skyward/contracts"
import type { PoolPrice, PoolStatus } from "./state.js"

/** Dollars as people read them: `$0.0850`, `$1.23`, `$412`. */
export const formatUsd = (usd: number): string => `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 4)}`

/** What a pool has cost from `price.since` to `now` (ms), in USD. */
export const costSoFar = (price: PoolPrice, now: number): number => new CostMeter(Date.parse(price.since), price.usdPerHour).total(now)

/** A named pool's price now and cost until `now`: from its status (which follows its nodes), else from its record. */
export const poolCost = (price: PoolPrice, status: PoolStatus | undefined, now: number): { readonly usdPerHour: number | null; readonly usd: number } => {
  const cost = status?.cost
  if (cost === undefined) return { usdPerHour: price.usdPerHour, usd: costSoFar(price, now) }
  return { usdPerHour: cost.usdPerHour, usd: cost.usd + new CostMeter(Date.parse(cost.at), cost.usdPerHour ?? undefined).total(now) }
}

/** The line (and JSON fields) `skyward run` ends with on priced nodes: the total (`usd` since `since`, ISO) and the cost per task. */
export const runCostReport = (
  cost: { readonly usd: number; readonly since: string; readonly source: string },
  now: number,
  tasks: number
): { readonly text: string; readonly fields: object } => {
  const minutes = (now - Date.parse(cost.since)) / 60_000
  // an elastic pool's price changed with its nodes: this is its average
  const usdPerHour = minutes > 0 ? cost.usd / (minutes / 60) : 0
  const perTask = tasks > 0 ? cost.usd / tasks : undefined
  return {
    text:
      `cost: about ${formatUsd(cost.usd)} (${formatUsd(usdPerHour)}/hour for ${minutes.toFixed(1)} min; ${cost.source})` +
      (perTask === undefined ? "" : `, ${formatUsd(perTask)} per task (${tasks} tasks)`),
    fields: { usd: cost.usd, usdPerHour, minutes, tasks, usdPerTask: perTask ?? null, priceSource: cost.source }
  }
}
