import { Deque } from "./queue.js"

/** Who submitted a task (`TaskSpec.client`); `undefined` is the one anonymous client. */
export type ClientKey = string | number | undefined

interface Client<T> {
  readonly key: ClientKey
  readonly queue: Deque<T>
  /** Its items handed out and not yet back (`started` minus `stopped`): tasks running or held on nodes. */
  active: number
  /** When it was last handed an item (a counter); 0 = never. */
  served: number
  /** Its index in the rotation; -1 while it has nothing queued. */
  turn: number
}

/**
 * The scheduler's queue when several clients share a pool: one FIFO per client, and `shift` takes
 * from the client with queued items that has the fewest items out (`started`, not yet `stopped`),
 * ties to the one served least recently. Two busy clients so converge to half the slots each, and a
 * client that arrives while another holds every slot gets the slots as they free. With one client it
 * is a plain FIFO. Costs O(clients with queued items) per `shift`, O(1) otherwise; a client is
 * forgotten once it has nothing queued and nothing out.
 */
export class FairQueue<T> {
  private readonly clients = new Map<ClientKey, Client<T>>()
  /** The clients with queued items, in no particular order. */
  private readonly rotation: Client<T>[] = []
  private count = 0
  private clock = 0

  constructor(private readonly clientOf: (item: T) => ClientKey) {}

  /** Items queued, of every client. */
  get length(): number {
    return this.count
  }

  /** Clients known: those with items queued or out. */
  get clientCount(): number {
    return this.clients.size
  }

  /** Queues `item` last of its client's items. */
  push(item: T): void {
    const client = this.enter(this.clientOf(item))
    client.queue.push(item)
    this.queued(client)
  }

  /** Queues `item` first of its client's items (a task handed back, or to run again). */
  unshift(item: T): void {
    const client = this.enter(this.clientOf(item))
    client.queue.unshift(item)
    this.queued(client)
  }

  /** Takes the next item of the client whose turn it is; `started` tells it was handed out. */
  shift(): T | undefined {
    if (this.count === 0) return undefined
    const client = this.due()
    const item = client.queue.shift()
    this.count--
    if (client.queue.length === 0) this.leaveRotation(client)
    return item
  }

  /** `item` (taken by `shift`) went to a node: it counts for its client until `stopped`. */
  started(item: T): void {
    const client = this.enter(this.clientOf(item))
    client.active++
    client.served = ++this.clock
  }

  /** `item` left its node (answered, handed back or lost). */
  stopped(item: T): void {
    const client = this.clients.get(this.clientOf(item))
    if (client === undefined || client.active === 0) return
    client.active--
    this.forgetIfIdle(client)
  }

  /** Removes and returns every queued item, each client's oldest first. */
  drain(): T[] {
    const out: T[] = []
    for (const client of this.rotation.splice(0)) {
      client.turn = -1
      for (const item of client.queue.drain()) out.push(item) // not push(...): a million items overflow the stack
      this.forgetIfIdle(client)
    }
    this.count = 0
    return out
  }

  /** The client with queued items and the fewest out; ties to the one served least recently. */
  private due(): Client<T> {
    const rotation = this.rotation
    let best = rotation[0]!
    for (let i = 1; i < rotation.length; i++) {
      const client = rotation[i]!
      if (client.active < best.active || (client.active === best.active && client.served < best.served)) best = client
    }
    return best
  }

  private enter(key: ClientKey): Client<T> {
    let client = this.clients.get(key)
    if (client === undefined) {
      client = { key, queue: new Deque<T>(), active: 0, served: 0, turn: -1 }
      this.clients.set(key, client)
    }
    return client
  }

  private queued(client: Client<T>): void {
    this.count++
    if (client.turn < 0) client.turn = this.rotation.push(client) - 1
  }

  private leaveRotation(client: Client<T>): void {
    // swap with the last one: the rotation's order does not matter, only who is in it
    const last = this.rotation.pop()!
    if (last !== client) {
      this.rotation[client.turn] = last
      last.turn = client.turn
    }
    client.turn = -1
    this.forgetIfIdle(client)
  }

  private forgetIfIdle(client: Client<T>): void {
    if (client.active === 0 && client.turn < 0) this.clients.delete(client.key)
  }
}
