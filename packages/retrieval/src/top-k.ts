/** The sorted contents of a drained heap: entries 0..count-1 of each array. */
export interface Drained {
  count: number;
  distances: Float64Array;
  orders: Float64Array;
  buckets: Int32Array;
  slots: Int32Array;
}

/**
 * A bounded max-heap keeping the k smallest (distance, order) pairs with a payload of two integers
 * (bucket, slot). Ties on distance are broken by `order` (smaller first), which makes every ranking
 * deterministic and independent of where items happen to sit in memory.
 */
export class TopK {
  private distances: Float64Array;
  private orders: Float64Array;
  private buckets: Int32Array;
  private slots: Int32Array;
  private capacity = 0;
  size = 0;
  /** Distance of the current worst kept pair; `Infinity` until the heap is full. */
  worst = Number.POSITIVE_INFINITY;
  private readonly drained: Drained = {
    count: 0,
    distances: new Float64Array(0),
    orders: new Float64Array(0),
    buckets: new Int32Array(0),
    slots: new Int32Array(0),
  };

  constructor(k: number) {
    this.distances = new Float64Array(k);
    this.orders = new Float64Array(k);
    this.buckets = new Int32Array(k);
    this.slots = new Int32Array(k);
    this.capacity = k;
  }

  /** Empties the heap for a new query of `k` results, reusing memory when it is large enough. */
  reset(k: number): void {
    if (k > this.distances.length) {
      this.distances = new Float64Array(k);
      this.orders = new Float64Array(k);
      this.buckets = new Int32Array(k);
      this.slots = new Int32Array(k);
    }
    this.capacity = k;
    this.size = 0;
    this.worst = Number.POSITIVE_INFINITY;
  }

  /** Offers a pair; callers may skip the call when `distance > worst`. */
  push(distance: number, order: number, bucket: number, slot: number): void {
    const d = this.distances;
    const o = this.orders;
    if (this.size < this.capacity) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (d[parent]! > distance || (d[parent] === distance && o[parent]! > order)) break;
        this.move(parent, i);
        i = parent;
      }
      this.set(i, distance, order, bucket, slot);
      if (this.size === this.capacity) this.worst = d[0]!;
      return;
    }
    if (distance > d[0]! || (distance === d[0] && order > o[0]!)) return;
    // Replace the root and sift down.
    const n = this.size;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= n) break;
      let child = left;
      const right = left + 1;
      if (right < n && (d[right]! > d[left]! || (d[right] === d[left] && o[right]! > o[left]!)))
        child = right;
      if (d[child]! < distance || (d[child] === distance && o[child]! < order)) break;
      this.move(child, i);
      i = child;
    }
    this.set(i, distance, order, bucket, slot);
    this.worst = d[0]!;
  }

  /**
   * Drains the heap into arrays sorted nearest first (then by order): the first `count` entries of
   * arrays this heap owns and reuses, valid until the next `drain`.
   */
  drain(): Drained {
    const n = this.size;
    const out = this.drained;
    if (out.distances.length < n) {
      out.distances = new Float64Array(this.distances.length);
      out.orders = new Float64Array(this.distances.length);
      out.buckets = new Int32Array(this.distances.length);
      out.slots = new Int32Array(this.distances.length);
    }
    out.count = n;
    const d = this.distances;
    const o = this.orders;
    for (let pos = n - 1; pos >= 0; pos--) {
      out.distances[pos] = d[0]!;
      out.orders[pos] = o[0]!;
      out.buckets[pos] = this.buckets[0]!;
      out.slots[pos] = this.slots[0]!;
      const last = --this.size;
      if (last === 0) break;
      const distance = d[last]!;
      const order = o[last]!;
      const bucket = this.buckets[last]!;
      const slot = this.slots[last]!;
      let i = 0;
      for (;;) {
        const left = 2 * i + 1;
        if (left >= last) break;
        let child = left;
        const right = left + 1;
        if (right < last && (d[right]! > d[left]! || (d[right] === d[left] && o[right]! > o[left]!)))
          child = right;
        if (d[child]! < distance || (d[child] === distance && o[child]! < order)) break;
        this.move(child, i);
        i = child;
      }
      this.set(i, distance, order, bucket, slot);
    }
    this.size = 0;
    this.worst = Number.POSITIVE_INFINITY;
    return out;
  }

  private move(from: number, to: number): void {
    this.distances[to] = this.distances[from]!;
    this.orders[to] = this.orders[from]!;
    this.buckets[to] = this.buckets[from]!;
    this.slots[to] = this.slots[from]!;
  }

  private set(i: number, distance: number, order: number, bucket: number, slot: number): void {
    this.distances[i] = distance;
    this.orders[i] = order;
    this.buckets[i] = bucket;
    this.slots[i] = slot;
  }
}
