import { encodeFrames, type EncodeOptions } from "./encoder.js"
import type { Message } from "./messages.js"

/**
 * Collects outgoing messages and writes them as one buffer when the code that pushed them is done
 * (a microtask): one syscall and one allocation for a burst of small frames instead of one each,
 * and no wait behind the rest of the event loop's I/O (each hop of a round trip pays that wait).
 */
export class FrameBatcher {
  private outbox: Message[] = []
  private scheduled = false
  private closed = false

  /** `write` receives each batch's bytes; `options` are the batch's encode options. */
  constructor(
    private readonly write: (bytes: Uint8Array) => void,
    private readonly options: EncodeOptions = {}
  ) {}

  /** Queues `message` for the next flush; ignored once closed. */
  push(message: Message): void {
    if (this.closed) return
    this.outbox.push(message)
    if (!this.scheduled) {
      this.scheduled = true
      queueMicrotask(() => this.flush())
    }
  }

  /** Drops what is queued and ignores later pushes. */
  close(): void {
    this.closed = true
    this.outbox = []
  }

  private flush(): void {
    this.scheduled = false
    const batch = this.outbox
    this.outbox = []
    if (batch.length > 0 && !this.closed) this.write(encodeFrames(batch, this.options))
  }
}
