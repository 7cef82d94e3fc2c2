import { AnchorageError } from '@anchorage/loss-core';
import { type IndexFileContents, readIndexFile, storeContents, writeIndexFile } from '../file/index-file.js';
import { ItemStore } from '../item-store.js';
import type { SearchPool } from '../pool/search-pool.js';
import { SearchScratch, searchHere } from '../pool/search-range.js';
import { type SharedIndexState, shareIndexState } from '../pool/shared-state.js';
import { TopK } from '../top-k.js';
import type { AddBatch, ItemId, SearchOptions, SearchResult, StoredItem, VectorIndex } from '../types.js';
import { checkBatch, checkId, checkQuery, checkSearchOptions, checkVectors } from '../validate.js';

/** Options of `new FlatIndex`. */
export interface FlatIndexOptions {
  /** Embedding size d. */
  dim: number;
}

/**
 * Exhaustive exact search: every query is compared with every stored vector (squared L2).
 * The baseline that AnchorIndex must equal at `probe = C`. Ties are ranked by insertion order.
 * @example
 * const index = new FlatIndex({ dim: 2 });
 * index.add({ ids: ['a', 'b'], vectors: new Float32Array([0, 0, 1, 1]) });
 * index.search(new Float32Array([0.9, 1]), { k: 1 }).hits[0].id; // 'b'
 */
export class FlatIndex implements VectorIndex {
  readonly dim: number;
  private readonly store: ItemStore;
  private readonly heap = new TopK(10);
  private readonly state: SharedIndexState;
  private readonly batchScratch = new SearchScratch();
  /**
   * When set, `searchBatch` runs on this pool's worker threads and the calling thread together
   * (same answers). Unset (the default), everything runs on the calling thread.
   */
  searchPool: SearchPool | undefined;

  constructor(options: FlatIndexOptions) {
    const dim = options?.dim;
    if (!Number.isInteger(dim) || dim < 1) {
      throw new AnchorageError('INVALID_ARGUMENT', `dim must be an integer ≥ 1, got ${dim}`, {
        argument: 'dim',
        value: dim,
      });
    }
    this.dim = dim;
    this.store = new ItemStore(dim, 1);
    this.state = shareIndexState(this, {
      dim,
      classes: 0,
      anchors: undefined,
      anchorReader: undefined,
      store: this.store,
      reportBuckets: false,
    });
  }

  /** Loads an index file written by `FlatIndex#save` or `AnchorIndex#save` (buckets are dropped). */
  static async load(path: string): Promise<FlatIndex> {
    return FlatIndex.fromContents(await readIndexFile(path));
  }

  /** Builds an index from decoded file contents (items keep their order, so ties rank as before). */
  static fromContents(file: IndexFileContents): FlatIndex {
    const index = new FlatIndex({ dim: file.dim });
    index.store.reserve(new Int32Array([file.ids.length]), true);
    for (let i = 0; i < file.ids.length; i++) {
      index.store.restore(file.ids[i]!, file.vectors, i * file.dim, file.labels[i]!, 0, i);
    }
    return index;
  }

  get size(): number {
    return this.store.size;
  }

  /** Approximate bytes held: vector blocks (with spare capacity), labels, orders, ids and the id map. */
  get memoryBytes(): number {
    return this.store.bytes;
  }

  add(batch: AddBatch): void {
    const labels = checkBatch(batch, this.dim);
    this.store.add(batch.ids, batch.vectors, labels, new Int32Array(batch.ids.length));
  }

  remove(id: ItemId): void {
    checkId(id);
    this.store.remove(id);
  }

  get(id: ItemId): StoredItem | undefined {
    const at = this.store.locate(id);
    return at === undefined ? undefined : this.store.item(at.bucket, at.slot, -1);
  }

  has(id: ItemId): boolean {
    return this.store.has(id);
  }

  search(query: Float32Array, options?: SearchOptions): SearchResult {
    checkQuery(query, this.dim);
    const { k } = checkSearchOptions(options);
    this.heap.reset(k);
    this.store.blocks[0]!.scan(query, 0, this.heap, 0);
    return { hits: this.store.hits(this.heap.drain(), false), scanned: this.store.size };
  }

  searchBatch(queries: Float32Array, options?: SearchOptions): SearchResult[] {
    const n = checkVectors(queries, this.dim, 'queries');
    const { k } = checkSearchOptions(options);
    if (this.searchPool !== undefined && n > 1) return this.searchPool.searchBatch(this, queries, options);
    return searchHere(this.state, queries, n, k, 1, 0, this.batchScratch);
  }

  /** Items in insertion order (copies). */
  items(): IterableIterator<StoredItem> {
    return this.store.itemsInOrder(false);
  }

  /** Writes the index file atomically; see the package README for the format. */
  async save(path: string): Promise<void> {
    await writeIndexFile(path, storeContents(this.store, this.dim, undefined));
  }
}
