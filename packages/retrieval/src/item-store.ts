import { AnchorageError } from '@anchorage/loss-core';
import type { CodeStore } from './kernel/int8.js';
import type { RowStore } from './kernel/l2.js';
import type { Drained } from './top-k.js';
import type { ItemId, SearchHit, StoredItem } from './types.js';
import type { CompressionSettings } from './validate.js';
import { NO_LABEL, VectorBlock } from './vector-block.js';

/**
 * The storage engine shared by FlatIndex (one bucket) and AnchorIndex (one bucket per anchor):
 * contiguous blocks per bucket and an id → location map encoded as `slot * buckets + bucket`, so
 * no object is allocated per item. Callers validate input; this class trusts it.
 */
export class ItemStore {
  readonly blocks: VectorBlock[];
  private readonly locations = new Map<ItemId, number>();
  /** Next insertion order; orders break distance ties, so rankings never depend on memory layout. */
  private nextOrder = 0;
  /** Searches in flight on worker threads (`SearchPool#search`): writes wait for them to settle. */
  pins = 0;

  /**
   * Per bucket, the owning thread's reader of its float32 rows and of its int8 codes (compressed
   * stores); undefined until the bucket's first row. A block keeps its readers for life, so these
   * are set once, when a bucket first receives a row.
   */
  readonly rowReaders: (RowStore | undefined)[];
  readonly codeReaders: (CodeStore | undefined)[];

  /** With `compression`, every block also keeps int8 codes of its rows (the compressed stage 2). */
  constructor(
    readonly dim: number,
    readonly bucketCount: number,
    readonly compression?: CompressionSettings,
  ) {
    this.blocks = Array.from({ length: bucketCount }, () => new VectorBlock(dim, compression !== undefined));
    this.rowReaders = new Array(bucketCount).fill(undefined);
    this.codeReaders = new Array(bucketCount).fill(undefined);
  }

  private noteReaders(bucket: number): void {
    if (this.rowReaders[bucket] !== undefined) return;
    const block = this.blocks[bucket]!;
    this.rowReaders[bucket] = block.reader;
    this.codeReaders[bucket] = block.codeReader;
  }

  get size(): number {
    return this.locations.size;
  }

  has(id: ItemId): boolean {
    return this.locations.has(id);
  }

  /** Stores rows `vectors[i]` under `ids[i]` in `buckets[i]`, replacing ids already present. */
  add(
    ids: readonly ItemId[],
    vectors: Float32Array,
    labels: Int32Array | undefined,
    buckets: Int32Array,
  ): void {
    this.checkWritable();
    const counts = new Int32Array(this.bucketCount);
    for (const bucket of buckets) counts[bucket]!++;
    this.reserve(counts, false);
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i]!;
      if (this.locations.has(id)) this.delete(id);
      const bucket = buckets[i]!;
      const label = labels === undefined ? NO_LABEL : labels[i]!;
      const slot = this.blocks[bucket]!.push(id, vectors, i * this.dim, label, this.nextOrder++);
      this.locations.set(id, slot * this.bucketCount + bucket);
      this.noteReaders(bucket);
    }
  }

  /** Sizes each bucket for `counts[b]` more rows, so loading a file allocates each block once. */
  reserve(counts: Int32Array, exact: boolean): void {
    counts.forEach((count, bucket) => {
      const block = this.blocks[bucket]!;
      block.reserve(block.count + count, exact);
    });
  }

  /** Restores one item with a given order (used by file loading, which preserves tie order). */
  restore(
    id: ItemId,
    vectors: Float32Array,
    offset: number,
    label: number,
    bucket: number,
    order: number,
  ): void {
    const slot = this.blocks[bucket]!.push(id, vectors, offset, label, order);
    this.locations.set(id, slot * this.bucketCount + bucket);
    this.noteReaders(bucket);
    if (order >= this.nextOrder) this.nextOrder = order + 1;
  }

  /** Throws INDEX_BUSY while worker threads search this store (they read its memory in place). */
  checkWritable(): void {
    if (this.pins > 0) {
      throw new AnchorageError(
        'INDEX_BUSY',
        `${this.pins} search(es) on worker threads are reading this index; write after they settle`,
        { argument: 'index', value: this.pins },
      );
    }
  }

  remove(id: ItemId): void {
    this.checkWritable();
    if (!this.locations.has(id)) {
      throw new AnchorageError('NOT_FOUND', `no item with id ${JSON.stringify(id)}`, {
        argument: 'id',
        value: id,
      });
    }
    this.delete(id);
  }

  private delete(id: ItemId): void {
    const location = this.locations.get(id)!;
    const bucket = location % this.bucketCount;
    const slot = (location - bucket) / this.bucketCount;
    this.locations.delete(id);
    const moved = this.blocks[bucket]!.removeAt(slot);
    if (moved !== undefined) this.locations.set(moved, location);
  }

  /** Bucket and slot of an id, or undefined. */
  locate(id: ItemId): { bucket: number; slot: number } | undefined {
    const location = this.locations.get(id);
    if (location === undefined) return undefined;
    const bucket = location % this.bucketCount;
    return { bucket, slot: (location - bucket) / this.bucketCount };
  }

  item(bucket: number, slot: number, reportedBucket: number): StoredItem {
    const block = this.blocks[bucket]!;
    const label = block.labels[slot]!;
    return {
      id: block.ids[slot]!,
      vector: block.vectorAt(slot),
      label: label === NO_LABEL ? undefined : label,
      bucket: reportedBucket,
    };
  }

  /** Items in insertion order (the order files are written in, which keeps ties stable on load). */
  *itemsInOrder(reportBuckets: boolean): IterableIterator<StoredItem> {
    for (const [bucket, slot] of this.sortedLocations()) {
      yield this.item(bucket, slot, reportBuckets ? bucket : -1);
    }
  }

  /** [bucket, slot] of every item, sorted by insertion order. */
  sortedLocations(): [number, number][] {
    const all: [number, number, number][] = [];
    this.blocks.forEach((block, bucket) => {
      for (let slot = 0; slot < block.count; slot++) all.push([block.orders[slot]!, bucket, slot]);
    });
    all.sort((a, b) => a[0] - b[0]);
    return all.map(([, bucket, slot]) => [bucket, slot]);
  }

  /** Turns drained heap contents into hits. */
  hits(drained: Drained, reportBuckets: boolean): SearchHit[] {
    return this.hitsAt(drained.distances, drained.buckets, drained.slots, 0, drained.count, reportBuckets);
  }

  /** Hits from entries offset..offset+count-1 of parallel (distance, bucket, slot) arrays. */
  hitsAt(
    distances: Float64Array,
    buckets: Int32Array,
    slots: Int32Array,
    offset: number,
    count: number,
    reportBuckets: boolean,
  ): SearchHit[] {
    const out: SearchHit[] = new Array(count);
    for (let i = 0; i < count; i++) {
      const bucket = buckets[offset + i]!;
      const block = this.blocks[bucket]!;
      const slot = slots[offset + i]!;
      const label = block.labels[slot]!;
      out[i] = {
        id: block.ids[slot]!,
        distance: distances[offset + i]!,
        label: label === NO_LABEL ? undefined : label,
        bucket: reportBuckets ? bucket : -1,
      };
    }
    return out;
  }

  /** Bytes held by the blocks' typed arrays and id references, plus an estimate of 40 per map entry. */
  get bytes(): number {
    let total = 40 * this.locations.size;
    for (const block of this.blocks) total += block.bytes;
    return total;
  }
}
