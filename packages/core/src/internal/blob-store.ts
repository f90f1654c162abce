/** Bytes of one `blob` frame: large blobs travel in chunks of this size. */
export const BLOB_CHUNK_BYTES = 16 * 1024 * 1024

interface Entry {
  readonly data: Uint8Array
  pins: number
}

/**
 * The large pickle buffers (blobs) the pool's tasks refer to, by content hash. A blob is pinned
 * while a task that refers to it is pending; unpinned blobs stay, least recently used first out,
 * within `budgetBytes`.
 */
export class BlobStore {
  // Map order is recency order: a blob is re-inserted when used.
  private readonly entries = new Map<string, Entry>()
  private unpinnedBytes = 0

  constructor(readonly budgetBytes: number) {}

  /** Number of blobs held. */
  get size(): number {
    return this.entries.size
  }

  /** Keeps `data` under `hash` (a blob already held is only marked as used). */
  put(hash: string, data: Uint8Array): void {
    const entry = this.entries.get(hash)
    if (entry !== undefined) return this.touch(hash, entry)
    this.entries.set(hash, { data, pins: 0 })
    this.unpinnedBytes += data.byteLength
    this.evict(hash)
  }

  /** The blob held under `hash`, if any. */
  get(hash: string): Uint8Array | undefined {
    return this.entries.get(hash)?.data
  }

  /** The hashes of `hashes` that are not held. */
  missing(hashes: ReadonlyArray<string>): string[] {
    return hashes.filter((hash) => !this.entries.has(hash))
  }

  /** Keeps every held blob of `hashes` until `unpin`. */
  pin(hashes: ReadonlyArray<string>): void {
    for (const hash of hashes) {
      const entry = this.entries.get(hash)
      if (entry === undefined) continue
      if (entry.pins++ === 0) this.unpinnedBytes -= entry.data.byteLength
      this.touch(hash, entry)
    }
  }

  /** Undoes one `pin` of `hashes`. */
  unpin(hashes: ReadonlyArray<string>): void {
    for (const hash of hashes) {
      const entry = this.entries.get(hash)
      if (entry === undefined || entry.pins === 0) continue
      if (--entry.pins === 0) this.unpinnedBytes += entry.data.byteLength
    }
    this.evict()
  }

  private touch(hash: string, entry: Entry): void {
    this.entries.delete(hash)
    this.entries.set(hash, entry)
  }

  /** Drops unpinned blobs, oldest first, until within budget; `keep` (just put) stays regardless. */
  private evict(keep?: string): void {
    if (this.unpinnedBytes <= this.budgetBytes) return
    for (const [hash, entry] of this.entries) {
      if (this.unpinnedBytes <= this.budgetBytes) return
      if (entry.pins > 0 || hash === keep) continue
      this.entries.delete(hash)
      this.unpinnedBytes -= entry.data.byteLength
    }
  }
}
