import { AnchorageError } from '@anchorage/loss-core';
import { type IndexFileContents, readIndexFile, storeContents, writeIndexFile } from '../file/index-file.js';
import { ItemStore } from '../item-store.js';
import { RowStore } from '../kernel/l2.js';
import type { SearchPool } from '../pool/search-pool.js';
import { SearchScratch, searchHere } from '../pool/search-range.js';
import { type SharedIndexState, shareIndexState } from '../pool/shared-state.js';
import { TopK } from '../top-k.js';
import type {
  AddBatch,
  ItemId,
  SearchHit,
  SearchOptions,
  SearchResult,
  StoredItem,
  VectorIndex,
} from '../types.js';
import {
  candidatesFor,
  checkBatch,
  checkCompression,
  checkId,
  checkQuery,
  checkSearchOptions,
  checkVectors,
  type ResolvedSearch,
} from '../validate.js';
import { rerank } from '../vector-block.js';
import { rankAnchors } from './stage-one.js';

/** Options of `new AnchorIndex`. */
export interface AnchorIndexOptions {
  /** The class anchors, C×dim row-major (copied). */
  anchors: Float32Array;
  /** Embedding size d. */
  dim: number;
  /**
   * `'int8'`: also keep int8 codes of every vector (a quarter of the float32 bytes, plus 16 per
   * item) and scan those in stage 2, re-ranking the best `rerank` candidates exactly; searches
   * read about a quarter of the memory. Off by default (see `SearchOptions.rerank` and `exact`).
   */
  compression?: Compression;
  /**
   * With compression: the candidates a search re-ranks exactly when it does not give `rerank`
   * (at least k are always re-ranked; default max(4·k, 40)).
   */
  rerank?: number;
}

/** How `AnchorIndex.load` builds the index (the file holds float32 vectors and anchors only). */
export type LoadOptions = Pick<AnchorIndexOptions, 'compression' | 'rerank'>;

/** Compression of stage 2: none, or int8 codes re-ranked exactly. */
export type Compression = 'none' | 'int8';

/**
 * The two-stage anchor index. Each item lives in the bucket of its label, or of its nearest anchor
 * when it has none. A search ranks the anchors (stage 1), then compares the query exactly with the
 * items of the `probe` nearest anchors' buckets only (stage 2). With `probe = C` the answer equals
 * `FlatIndex`'s bit for bit, ties included (both rank ties by insertion order).
 * @example
 * const index = new AnchorIndex({ dim: 2, anchors: new Float32Array([0, 0, 10, 10]) });
 * index.add({ ids: [1, 2], vectors: new Float32Array([0, 1, 9, 9]) });
 * index.search(new Float32Array([8, 8]), { k: 1, probe: 1 }).hits[0]; // { id: 2, bucket: 1, … }
 */
export class AnchorIndex implements VectorIndex {
  readonly dim: number;
  /** Number of anchors C. */
  readonly classes: number;
  private readonly anchorRows: Float32Array;
  /** The anchors held like a bucket, so stage 1 runs in the SIMD kernel (and in search workers). */
  private readonly anchorStore: RowStore;
  private readonly store: ItemStore;
  private readonly heap = new TopK(10);
  private readonly exactHeap = new TopK(10);
  private readonly state: SharedIndexState;
  private readonly batchScratch = new SearchScratch();
  /** Stage-1 scratch of one query: anchors nearest first and their (float32) squared distances. */
  private readonly order: Int32Array;
  private readonly orderDistances: Float32Array;
  private readonly scratch: Float32Array;
  /**
   * When set, `searchBatch` runs on this pool's worker threads and the calling thread together
   * (same answers). Unset (the default), everything runs on the calling thread.
   */
  searchPool: SearchPool | undefined;

  constructor(options: AnchorIndexOptions) {
    const dim = options?.dim;
    if (!Number.isInteger(dim) || dim < 1) {
      throw new AnchorageError('INVALID_ARGUMENT', `dim must be an integer ≥ 1, got ${dim}`, {
        argument: 'dim',
        value: dim,
      });
    }
    const classes = checkVectors(options.anchors, dim, 'anchors');
    if (classes < 1) {
      throw new AnchorageError('INVALID_ARGUMENT', 'anchors must hold at least one anchor', {
        argument: 'anchors',
        value: 0,
      });
    }
    this.dim = dim;
    this.classes = classes;
    this.anchorRows = options.anchors.slice();
    this.anchorStore = new RowStore(dim, classes, true, 0);
    this.anchorStore.rows.set(this.anchorRows);
    this.store = new ItemStore(dim, classes, checkCompression(options.compression, options.rerank));
    this.order = new Int32Array(classes);
    this.orderDistances = new Float32Array(classes);
    this.scratch = new Float32Array(classes);
    this.state = shareIndexState(this, {
      dim,
      classes,
      anchors: this.anchorStore.source,
      anchorReader: this.anchorStore,
      store: this.store,
      reportBuckets: true,
    });
  }

  /**
   * Loads an index file written by `AnchorIndex#save`; a FlatIndex file (no anchors) is refused.
   * The file holds float32 vectors only: `compression` rebuilds the codes as they load.
   */
  static async load(path: string, options: LoadOptions = {}): Promise<AnchorIndex> {
    const file = await readIndexFile(path);
    if (file.anchors === undefined) {
      throw new AnchorageError(
        'UNSUPPORTED',
        `${path} is a FlatIndex file (no anchors); load it with FlatIndex.load`,
        {
          argument: 'path',
          value: path,
        },
      );
    }
    return AnchorIndex.fromContents(file, options);
  }

  /** Builds an index from decoded file contents that include anchors (items keep their order). */
  static fromContents(file: IndexFileContents, options: LoadOptions = {}): AnchorIndex {
    if (file.anchors === undefined) {
      throw new AnchorageError('UNSUPPORTED', 'the index file has no anchors', { argument: 'file' });
    }
    const index = new AnchorIndex({
      dim: file.dim,
      anchors: file.anchors,
      ...options,
    });
    const counts = new Int32Array(index.classes);
    for (const bucket of file.buckets) counts[bucket]!++;
    index.store.reserve(counts, true);
    for (let i = 0; i < file.ids.length; i++) {
      index.store.restore(file.ids[i]!, file.vectors, i * file.dim, file.labels[i]!, file.buckets[i]!, i);
    }
    return index;
  }

  /** A copy of the anchors, C×dim. */
  get anchors(): Float32Array {
    return this.anchorRows.slice();
  }

  get size(): number {
    return this.store.size;
  }

  /** The compression of stage 2 this index was built with. */
  get compression(): Compression {
    return this.store.compression === undefined ? 'none' : 'int8';
  }

  /** Items per bucket (C entries). */
  get bucketSizes(): Int32Array {
    return Int32Array.from(this.store.blocks, (block) => block.count);
  }

  /** Approximate bytes held: vector blocks (with spare capacity), labels, orders, ids and the id map. */
  get memoryBytes(): number {
    return this.store.bytes + this.anchorRows.byteLength;
  }

  add(batch: AddBatch): void {
    const labels = checkBatch(batch, this.dim, this.classes);
    const buckets = labels ?? this.nearestAnchors(batch.vectors);
    this.store.add(batch.ids, batch.vectors, labels, buckets);
  }

  remove(id: ItemId): void {
    checkId(id);
    this.store.remove(id);
  }

  get(id: ItemId): StoredItem | undefined {
    const at = this.store.locate(id);
    return at === undefined ? undefined : this.store.item(at.bucket, at.slot, at.bucket);
  }

  has(id: ItemId): boolean {
    return this.store.has(id);
  }

  search(query: Float32Array, options?: SearchOptions): SearchResult {
    checkQuery(query, this.dim);
    return this.searchOne(query, 0, checkSearchOptions(options, this.classes));
  }

  searchBatch(queries: Float32Array, options?: SearchOptions): SearchResult[] {
    const n = checkVectors(queries, this.dim, 'queries');
    const resolved = checkSearchOptions(options, this.classes);
    if (this.searchPool !== undefined && !resolved.fullRanking && n > 1) {
      return this.searchPool.searchBatch(this, queries, options);
    }
    if (resolved.fullRanking) {
      return Array.from({ length: n }, (_, q) => this.searchOne(queries, q * this.dim, resolved));
    }
    const candidates = candidatesFor(this.store.compression, resolved);
    return searchHere(this.state, queries, n, resolved.k, resolved.probe, candidates, this.batchScratch);
  }

  private searchOne(queries: Float32Array, offset: number, resolved: ResolvedSearch): SearchResult {
    const { k, probe, fullRanking } = resolved;
    const candidates = candidatesFor(this.store.compression, resolved);
    const needed = fullRanking ? this.classes : probe;
    rankAnchors(
      this.anchorStore,
      this.classes,
      queries,
      offset,
      needed,
      this.order,
      this.orderDistances,
      this.scratch,
    );
    const heap = this.heap;
    heap.reset(candidates > 0 ? candidates : k);
    let scanned = 0;
    for (let i = 0; i < probe; i++) {
      const block = this.store.blocks[this.order[i]!]!;
      if (candidates > 0) block.scanCodes(queries, offset, heap, this.order[i]!);
      else block.scan(queries, offset, heap, this.order[i]!);
      scanned += block.count;
    }
    let answer = heap;
    if (candidates > 0) {
      answer = this.exactHeap;
      answer.reset(k);
      rerank(this.store.rowReaders, heap, queries, offset, answer);
    }
    const hits: SearchHit[] = this.store.hits(answer.drain(), true);
    // Full ranking: the remaining buckets follow, nearest anchor first, each ranked by distance.
    for (let i = probe; fullRanking && i < this.classes && hits.length < k; i++) {
      const bucket = this.order[i]!;
      const block = this.store.blocks[bucket]!;
      if (block.count === 0) continue;
      heap.reset(k - hits.length);
      block.scan(queries, offset, heap, bucket);
      scanned += block.count;
      for (const hit of this.store.hits(heap.drain(), true)) hits.push(hit);
    }
    return { hits, scanned, probed: probedList(this.order, this.orderDistances, 0, probe) };
  }

  /** The nearest anchor of each row (ties to the lower index), by the kernel stage 1 uses. */
  private nearestAnchors(vectors: Float32Array): Int32Array {
    const n = vectors.length / this.dim;
    const out = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      rankAnchors(
        this.anchorStore,
        this.classes,
        vectors,
        i * this.dim,
        1,
        this.order,
        this.orderDistances,
        this.scratch,
      );
      out[i] = this.order[0]!;
    }
    return out;
  }

  /** Items in insertion order (copies). */
  items(): IterableIterator<StoredItem> {
    return this.store.itemsInOrder(true);
  }

  /** Writes the index file atomically; see the package README for the format. */
  async save(path: string): Promise<void> {
    await writeIndexFile(path, storeContents(this.store, this.dim, this.anchorRows));
  }
}

function probedList(
  indices: Int32Array,
  distances: Float32Array,
  offset: number,
  probe: number,
): { anchor: number; distance: number }[] {
  const out: { anchor: number; distance: number }[] = new Array(probe);
  for (let i = 0; i < probe; i++) out[i] = { anchor: indices[offset + i]!, distance: distances[offset + i]! };
  return out;
}
