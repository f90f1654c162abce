/** A GPU request, parsed: a type as EC2 names it (any when undefined), and how many. */
export interface GpuRequest {
  readonly name: string | undefined
  readonly count: number
}

/** `T4`, `A10G:4` or `2` as a GPU request; undefined when the text is none of these. */
export const parseGpu = (text: string): GpuRequest | undefined => {
  const m = /^(?:([A-Za-z][\w -]*?)(?::(\d+))?|(\d+))$/.exec(text.trim())
  if (m === null) return undefined
  if (m[3] !== undefined) return Number(m[3]) > 0 ? { name: undefined, count: Number(m[3]) } : undefined
  const count = m[2] === undefined ? 1 : Number(m[2])
  return count > 0 ? { name: m[1], count } : undefined
}
