import { createHash } from "node:crypto"
import type { Blob } from "@skyward/codec"
import { describe, expect, it } from "vitest"
import { BlobIntake } from "../src/internal/blob-intake.js"

const sha256 = (data: Uint8Array): string => createHash("sha256").update(data).digest("hex")
const bytes = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251)
/** `data` as blob `hash` in chunks of `chunk` bytes. */
const chunks = (hash: string, data: Uint8Array, chunk: number): Blob[] =>
  Array.from({ length: Math.ceil(data.byteLength / chunk) }, (_, i) => ({
    type: "blob",
    hash,
    data: data.subarray(i * chunk, (i + 1) * chunk),
    offset: i * chunk,
    total: data.byteLength
  }))

describe("a connection's incoming blobs", () => {
  it("assembles a blob from its chunks and hands it over once its bytes hash to its name", () => {
    const intake = new BlobIntake(1000)
    const data = bytes(1000)
    const steps = chunks(sha256(data), data, 300).map((c) => intake.take(c))
    expect(steps.slice(0, -1).map((s) => s._tag)).toEqual(["Pending", "Pending", "Pending"])
    const last = steps.at(-1)!
    expect(last._tag).toBe("Complete")
    expect(Buffer.from((last as { data: Uint8Array }).data).equals(Buffer.from(data))).toBe(true)
  })

  it("refuses bytes that do not hash to the name, whole or chunked, until the right bytes come", () => {
    const intake = new BlobIntake(1000)
    const data = bytes(1000)
    const hash = sha256(data)
    const wrong = bytes(1000, 2)
    const whole = intake.take({ type: "blob", hash, data: wrong })
    expect(whole).toEqual({
      _tag: "Refused",
      hash,
      refusal: {
        excType: "skyward.BlobMismatch",
        message: `blob ${hash} (1000 B) arrived with other content (SHA-256 ${sha256(wrong)}): refused. Its buffer changed after it was hashed, or the bytes were damaged on the way`
      }
    })
    expect(intake.refusalOf(["00".repeat(32), hash])?.excType).toBe("skyward.BlobMismatch")
    expect(chunks(hash, wrong, 400).map((c) => intake.take(c)._tag)).toEqual(["Pending", "Pending", "Refused"])
    expect(chunks(hash, data, 400).map((c) => intake.take(c)._tag)).toEqual(["Pending", "Pending", "Complete"])
    expect(intake.refusalOf([hash])).toBeUndefined()
  })

  it("refuses a blob over the limit from its first chunk and skips the rest without holding it", () => {
    const intake = new BlobIntake(1000)
    const hash = "ab".repeat(32)
    const first = intake.take({ type: "blob", hash, data: bytes(10), offset: 0, total: 4.5 * 1024 ** 3 })
    expect(first).toMatchObject({ _tag: "Refused", refusal: { excType: "skyward.BlobTooLarge" } })
    expect((first as { refusal: { message: string } }).refusal.message).toBe(
      `blob ${hash} of 4.5 GiB is over the pool's argument limit of 1000 B (pool option argumentLimit, skyward run --argument-limit): refused`
    )
    // the next chunks of it are counted and dropped; then another blob is taken as usual
    expect(intake.take({ type: "blob", hash, data: bytes(10), offset: 10, total: 4.5 * 1024 ** 3 })._tag).toBe("Pending")
    const data = bytes(500)
    expect(intake.take({ type: "blob", hash: sha256(data), data })._tag).toBe("Complete")
    expect(intake.refusalOf([hash])?.excType).toBe("skyward.BlobTooLarge")
  })

  it("breaks on a bad name, a chunk out of its blob, out of order, or of another blob midway", () => {
    const data = bytes(100)
    const hash = sha256(data)
    const broken = (...messages: Blob[]) => {
      const intake = new BlobIntake(1000)
      return messages.map((m) => intake.take(m)).at(-1)
    }
    expect(broken({ type: "blob", hash: "../../etc/passwd", data })).toMatchObject({ _tag: "Broken", reason: expect.stringMatching(/expected a SHA-256 in hex/) })
    expect(broken({ type: "blob", hash, data, offset: 50, total: 100 })).toMatchObject({ _tag: "Broken", reason: expect.stringMatching(/outside its 100 bytes/) })
    expect(broken({ type: "blob", hash, data: data.subarray(50), offset: 50, total: 100 })).toMatchObject({ _tag: "Broken", reason: expect.stringMatching(/does not follow a first chunk/) })
    const [a, b] = chunks(hash, data, 50)
    expect(broken(a!, { ...b!, offset: 40 })).toMatchObject({ _tag: "Broken", reason: expect.stringMatching(/at 40 that does not follow blob .* at 50/) })
    expect(broken(a!, { ...b!, hash: "cd".repeat(32) })?._tag).toBe("Broken")
  })
})
