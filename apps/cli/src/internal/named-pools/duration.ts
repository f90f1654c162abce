const UNIT_MS: Readonly<Record<string, number>> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/**
 * `--idle 30m` (also 90s, 2h, 1d, 1h30m; a bare number is minutes) in milliseconds; `off` or 0:
 * never (undefined). A text that is none of these gives null.
 */
export const parseIdle = (text: string): number | undefined | null => {
  const trimmed = text.trim().toLowerCase()
  if (trimmed === "off" || trimmed === "never" || trimmed === "0") return undefined
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * UNIT_MS.m!)
  const parts = [...trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)]
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== trimmed) return null
  const ms = parts.reduce((sum, p) => sum + Number(p[1]) * UNIT_MS[p[2]!]!, 0)
  return ms > 0 ? Math.round(ms) : undefined
}

/** 1800000 as `30m`, 5400000 as `1h30m`, 45000 as `45s`. */
export const formatDuration = (ms: number): string => {
  let rest = Math.round(ms / 1000)
  const out: string[] = []
  for (const [unit, size] of [["d", 86_400], ["h", 3_600], ["m", 60], ["s", 1]] as const) {
    if (rest >= size) {
      out.push(`${Math.floor(rest / size)}${unit}`)
      rest %= size
    }
  }
  return out.join("") || "0s"
}
