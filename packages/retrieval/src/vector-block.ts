import { CodeStore } from './kernel/int8.js';
import { type RowReader, RowStore, type SharedRows, TILE_ROWS } from './kernel/l2.js';
import type { TopK } from './top-k.js';
import type { ItemId } from './types.js';

/** Label value stored for an item added without one. */
export const NO_LABEL = -1;

const EMPTY = new Float32Array(0);

/**
 * A growable contiguous store of items: vectors in one `Float32Array` (row-major, capacity×dim,
 * in memory the SIMD distance kernel reads; doubled when full), with ids, labels and insertion
 * orders in parallel arrays. Removal moves the last item into the freed slot, so the store stays
 * dense and a scan touches only live rows. Nothing is allocated until the first row arrives.
 */
export class VectorBlock {
  private store: RowStore | undefined;
  /** The rows' int8 codes, slot for slot (compressed indexes only). */
  private codeStore: CodeStore | undefined;
  labels: Int32Array;
  /**
   * Insertion order of each slot (a global counter of the owning index): the tie-break of rankings.
   * In shared memory, so search workers read it where it is.
   */
  orders: Float64Array;
  ids: ItemId[] = [];
  count = 0;
  /** Bumped whenever the rows or orders move to new memory, so a worker knows to pick them up again. */
  version = 0;

  /** `compressed`: also keep int8 codes of the rows, for the compressed stage 2. */
  constructor(
    readonly dim: number,
    readonly compressed = false,
  ) {
    this.labels = new Int32Array(0);
    this.orders = new Float64Array(new SharedArrayBuffer(0));
  }

  /** The owning thread's reader of the rows (slot 0), or undefined before the first row. */
  get reader(): RowStore | undefined {
    return this.store;
  }

  /** What a worker thread needs to read this block's rows, or undefined before the first row. */
  get source(): SharedRows | undefined {
    return this.store?.source;
  }

  /** The owning thread's reader of the int8 codes (slot 0), or undefined (uncompressed, or before the first row). */
  get codeReader(): CodeStore | undefined {
    return this.codeStore;
  }

  /** What a worker thread needs to read the codes, or undefined. */
  get codeSource(): SharedRows | undefined {
    return this.codeStore?.source;
  }

  /** The rows, capacity×dim; a new view after every resize, so do not keep it across writes. */
  get vectors(): Float32Array {
    return this.store?.rows ?? EMPTY;
  }

  get capacity(): number {
    return this.labels.length;
  }

  /**
   * Makes room for `capacity` rows. `exact` sizes the block to that (loading a file); otherwise it
   * at least doubles, so many small batches still cost amortised O(1) copies per row.
   */
  reserve(capacity: number, exact: boolean): void {
    if (capacity > this.capacity) this.grow(exact ? capacity : Math.max(capacity, 2 * this.capacity));
  }

  /** Appends a row copied from `source[offset..offset+dim)`; returns its slot. */
  push(id: ItemId, source: Float32Array, offset: number, label: number, order: number): number {
    if (this.count === this.capacity) this.grow(Math.max(16, this.capacity * 2));
    const slot = this.count++;
    this.vectors.set(source.subarray(offset, offset + this.dim), slot * this.dim);
    this.codeStore?.encode(slot, source, offset);
    this.labels[slot] = label;
    this.orders[slot] = order;
    this.ids[slot] = id;
    return slot;
  }

  /** Removes `slot` by moving the last row into it; returns the id that moved (or undefined). */
  removeAt(slot: number): ItemId | undefined {
    const last = --this.count;
    let moved: ItemId | undefined;
    if (slot !== last) {
      this.vectors.copyWithin(slot * this.dim, last * this.dim, (last + 1) * this.dim);
      this.codeStore?.move(slot, last);
      this.labels[slot] = this.labels[last]!;
      this.orders[slot] = this.orders[last]!;
      moved = this.ids[last]!;
      this.ids[slot] = moved;
    }
    this.ids.length = last;
    // Give memory back when the block is mostly empty, keeping room to grow again.
    if (this.capacity > 64 && this.count * 4 < this.capacity) this.grow(Math.max(16, this.capacity >> 1));
    return moved;
  }

  /** A copy of the vector at `slot`. */
  vectorAt(slot: number): Float32Array {
    return this.vectors.slice(slot * this.dim, (slot + 1) * this.dim);
  }

  /** Compares every row with the query and offers it to `heap` tagged with `bucket`. */
  scan(query: Float32Array, queryOffset: number, heap: TopK, bucket: number): void {
    this.scanRange(query, queryOffset, heap, bucket, 0, this.count);
  }

  /** `scan` over the int8 codes: estimated distances (compressed blocks only), for {@link rerank}. */
  scanCodes(query: Float32Array, queryOffset: number, heap: TopK, bucket: number): void {
    if (this.codeStore !== undefined && this.count > 0)
      scanRows(this.codeStore, this.orders, query, queryOffset, heap, bucket, 0, this.count);
  }

  /** `scan` restricted to slots `start..end-1`. */
  scanRange(
    query: Float32Array,
    queryOffset: number,
    heap: TopK,
    bucket: number,
    start: number,
    end: number,
  ): void {
    const store = this.store;
    if (store === undefined || start >= end) return;
    scanRows(store, this.orders, query, queryOffset, heap, bucket, start, end);
  }

  /** Bytes held: the row memory (capacity, not count), codes, labels, orders, and 8 per id reference. */
  get bytes(): number {
    return (
      (this.store?.bytes ?? 0) +
      (this.codeStore?.bytes ?? 0) +
      this.labels.byteLength +
      this.orders.byteLength +
      8 * this.ids.length
    );
  }

  private grow(capacity: number): void {
    if (this.store === undefined) this.store = new RowStore(this.dim, capacity);
    else this.store.resize(capacity, this.count);
    if (this.compressed) {
      if (this.codeStore === undefined) this.codeStore = new CodeStore(this.dim, capacity);
      else this.codeStore.resize(capacity, this.count);
    }
    const labels = new Int32Array(capacity);
    labels.set(this.labels.subarray(0, this.count));
    const orders = new Float64Array(new SharedArrayBuffer(capacity * 8));
    orders.set(this.orders.subarray(0, this.count));
    this.labels = labels;
    this.orders = orders;
    this.version++;
  }
}

/**
 * Compares rows `start..end-1` (through `reader`, in tiles) with the query and offers each row
 * that may enter `heap`, tagged with `bucket`, its slot and its insertion order. The one stage-2
 * loop of every index, on the owning thread and in search workers.
 */
export function scanRows(
  reader: Pick<RowReader, 'setQuery' | 'distances'>,
  orders: Float64Array,
  query: Float32Array,
  queryOffset: number,
  heap: TopK,
  bucket: number,
  start: number,
  end: number,
): void {
  reader.setQuery(query, queryOffset);
  for (let tile = start; tile < end; tile += TILE_ROWS) {
    const tileEnd = Math.min(end, tile + TILE_ROWS);
    const distances = reader.distances(tile, tileEnd);
    const n = tileEnd - tile;
    for (let i = 0; i < n; i++) {
      const d = distances[i]!;
      if (d <= heap.worst) heap.push(d, orders[tile + i]!, bucket, tile + i);
    }
  }
}

/**
 * The second step of the compressed stage 2: drains `candidates` (chosen by their int8 estimates)
 * and offers each to `heap` with its exact float32 distance, read through its bucket's reader in
 * `readers`, so the answer ranks exactly as an uncompressed scan whenever the true nearest are
 * among the candidates (ties by insertion order, as always).
 */
export function rerank(
  readers: readonly (Pick<RowReader, 'setQuery' | 'distance'> | undefined)[],
  candidates: TopK,
  query: Float32Array,
  queryOffset: number,
  heap: TopK,
): void {
  const drained = candidates.drain();
  let current = -1;
  for (let i = 0; i < drained.count; i++) {
    const bucket = drained.buckets[i]!;
    const slot = drained.slots[i]!;
    const reader = readers[bucket]!;
    if (bucket !== current) {
      reader.setQuery(query, queryOffset);
      current = bucket;
    }
    const d = reader.distance(slot);
    if (d <= heap.worst) heap.push(d, drained.orders[i]!, bucket, slot);
  }
}
