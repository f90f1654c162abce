// xxHash32, used to verify the optional checksums of an LZ4 frame.

const P1 = 0x9e3779b1
const P2 = 0x85ebca77
const P3 = 0xc2b2ae3d
const P4 = 0x27d4eb2f
const P5 = 0x165667b1

const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r))

const u32 = (b: Uint8Array, i: number): number =>
  (b[i]! | (b[i + 1]! << 8) | (b[i + 2]! << 16) | (b[i + 3]! << 24)) >>> 0

const round = (acc: number, lane: number): number => Math.imul(rotl((acc + Math.imul(lane, P2)) | 0, 13), P1)

/** xxHash32 of `src[start, end)` with seed 0, as an unsigned 32-bit number. */
export const xxh32 = (src: Uint8Array, start: number, end: number): number => {
  let i = start
  const len = end - start
  let h: number
  if (len >= 16) {
    let v1 = (P1 + P2) | 0
    let v2 = P2
    let v3 = 0
    let v4 = -P1 | 0
    const limit = end - 16
    while (i <= limit) {
      v1 = round(v1, u32(src, i))
      v2 = round(v2, u32(src, i + 4))
      v3 = round(v3, u32(src, i + 8))
      v4 = round(v4, u32(src, i + 12))
      i += 16
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else {
    h = P5
  }
  h = (h + len) | 0
  while (i + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(u32(src, i), P3)) | 0, 17), P4)
    i += 4
  }
  while (i < end) {
    h = Math.imul(rotl((h + Math.imul(src[i]!, P5)) | 0, 11), P1)
    i++
  }
  h ^= h >>> 15
  h = Math.imul(h, P2)
  h ^= h >>> 13
  h = Math.imul(h, P3)
  h ^= h >>> 16
  return h >>> 0
}
