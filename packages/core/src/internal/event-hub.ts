import type { PoolEvent, PoolEventListener } from "@skyward/contracts"

/** A small fan-out of events to synchronous listeners; emits nothing when nobody listens. */
export class EventHub {
  private listeners: ReadonlyArray<PoolEventListener> = []

  /** True when at least one listener is attached (lets hot paths skip building events). */
  get active(): boolean {
    return this.listeners.length > 0
  }

  /** Attaches `listener`; returns the function that detaches it. */
  subscribe(listener: PoolEventListener): () => void {
    this.listeners = [...this.listeners, listener]
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener)
    }
  }

  emit(event: PoolEvent): void {
    for (const listener of this.listeners) {
      try {
        listener(event)
      } catch {
        // a broken listener must not break the pool
      }
    }
  }
}
