/** What the heap orders: load (in-flight tasks minus capacity) first, then index for a stable tie-break. */
export interface HeapNode {
  readonly index: number
  load: number
  heapPos: number
}

const before = (a: HeapNode, b: HeapNode): boolean =>
  a.load < b.load || (a.load === b.load && a.index < b.index)

/** A binary min-heap of nodes by load (in-flight minus capacity, so the top has the most free slots): the least-loaded node in O(1), updates in O(log n). */
export class NodeHeap<N extends HeapNode> {
  private readonly heap: N[] = []

  get size(): number {
    return this.heap.length
  }

  peek(): N | undefined {
    return this.heap[0]
  }

  insert(node: N): void {
    node.heapPos = this.heap.length
    this.heap.push(node)
    this.up(node.heapPos)
  }

  remove(node: N): void {
    const pos = node.heapPos
    if (pos < 0 || this.heap[pos] !== node) return
    const last = this.heap.pop()!
    node.heapPos = -1
    if (last === node) return
    this.heap[pos] = last
    last.heapPos = pos
    this.up(pos)
    this.down(last.heapPos)
  }

  /** Restores order after `node.load` changed. */
  update(node: N): void {
    if (node.heapPos < 0) return
    this.up(node.heapPos)
    this.down(node.heapPos)
  }

  private up(pos: number): void {
    const heap = this.heap
    const node = heap[pos]!
    while (pos > 0) {
      const parentPos = (pos - 1) >> 1
      const parent = heap[parentPos]!
      if (!before(node, parent)) break
      heap[pos] = parent
      parent.heapPos = pos
      pos = parentPos
    }
    heap[pos] = node
    node.heapPos = pos
  }

  private down(pos: number): void {
    const heap = this.heap
    const n = heap.length
    const node = heap[pos]!
    for (;;) {
      const left = 2 * pos + 1
      if (left >= n) break
      const right = left + 1
      const child = right < n && before(heap[right]!, heap[left]!) ? right : left
      if (!before(heap[child]!, node)) break
      heap[pos] = heap[child]!
      heap[pos]!.heapPos = pos
      pos = child
    }
    heap[pos] = node
    node.heapPos = pos
  }
}
