import type { PoolPrice } from "./state.js"

/** Dollars as people read them: `$0.0850`, `$1.23`, `$412`. */
export const formatUsd = (usd: number): string => `$${usd.toFixed(usd >= 100 ? 0 : usd >= 1 ? 2 : 4)}`

/** What a pool has cost from `price.since` to `now` (ms), in USD. */
export const costSoFar = (price: PoolPrice, now: number): number => (price.usdPerHour * Math.max(0, now - Date.parse(price.since))) / 3_600_000
