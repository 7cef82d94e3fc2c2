import { rankAnchors } from '../anchor/stage-one.js';
import type { RowReader } from '../kernel/l2.js';
import { TopK } from '../top-k.js';
import type { SearchResult } from '../types.js';
import { rerank, scanRows } from '../vector-block.js';
import { BatchResults } from './results.js';
import type { SharedIndexState } from './shared-state.js';

type Reader = Pick<RowReader, 'setQuery' | 'distances'>;

/** One thread's view of an index: what it reads to search (the owning thread's or a worker's). */
export interface SearchView {
  dim: number;
  /** Anchors C; 0 for an exhaustive index (one bucket, always scanned). */
  classes: number;
  anchors: Reader | undefined;
  /** Per bucket: its reader (undefined while empty), its orders and its live row count. */
  readers: readonly (Pick<RowReader, 'setQuery' | 'distances' | 'distance'> | undefined)[];
  /** Per bucket: the reader of its int8 codes (compressed indexes; otherwise empty). */
  codes: readonly (Reader | undefined)[];
  orders: readonly Float64Array[];
  counts: ArrayLike<number>;
}

/** Rows per stage-2 tile: a tile stays in cache while every query of the chunk that probes its bucket passes over it. */
const TILE_ROWS = 1024;

/** Scratch one thread reuses from chunk to chunk. */
export class SearchScratch {
  private heaps: TopK[] = [];
  /** The exact answer of a compressed search, filled from a query's candidates. */
  readonly exact = new TopK(10);
  order = new Int32Array(0);
  orderDistances = new Float32Array(0);
  anchorDistances = new Float32Array(0);

  heap(i: number, k: number): TopK {
    while (this.heaps.length <= i) this.heaps.push(new TopK(k));
    const heap = this.heaps[i]!;
    heap.reset(k);
    return heap;
  }

  reserve(queries: number, probe: number, classes: number): void {
    if (this.order.length < queries * probe) {
      this.order = new Int32Array(queries * probe);
      this.orderDistances = new Float32Array(queries * probe);
    }
    if (this.anchorDistances.length < classes) this.anchorDistances = new Float32Array(classes);
  }
}

/**
 * Searches queries q0..q1-1 of `queries` (stage 1, then stage 2 grouped by bucket so each tile of
 * rows serves every query of the range that probes it) and writes their answers to `out`. Gives
 * exactly the answers of the index's own `search`, ties included: the same kernel, the same heap.
 * With `candidates` > 0 (a compressed index), stage 2 scans the int8 codes for that many
 * candidates per query and re-ranks them exactly.
 */
export function searchRange(
  view: SearchView,
  queries: Float32Array,
  q0: number,
  q1: number,
  k: number,
  probe: number,
  candidates: number,
  out: BatchResults,
  scratch: SearchScratch,
): void {
  const { dim, classes } = view;
  const scanReaders = candidates > 0 ? view.codes : view.readers;
  const m = q1 - q0;
  const width = classes === 0 ? 1 : probe;
  scratch.reserve(m, width, classes);
  const order = scratch.order;
  const heaps: TopK[] = new Array(m);
  for (let i = 0; i < m; i++) {
    const q = q0 + i;
    heaps[i] = scratch.heap(i, candidates > 0 ? candidates : k);
    if (classes === 0) {
      order[i] = 0;
      continue;
    }
    const indices = order.subarray(i * probe, (i + 1) * probe);
    const distances = scratch.orderDistances.subarray(i * probe, (i + 1) * probe);
    rankAnchors(view.anchors!, classes, queries, q * dim, probe, indices, distances, scratch.anchorDistances);
    out.probedAnchors.set(indices, q * probe);
    out.probedDistances.set(distances, q * probe);
  }
  // Queries per bucket (a counting sort of the (query, bucket) pairs).
  const buckets = view.readers.length;
  const starts = new Int32Array(buckets + 1);
  for (let p = 0; p < m * width; p++) starts[order[p]! + 1]++;
  for (let b = 0; b < buckets; b++) starts[b + 1] += starts[b]!;
  const fill = starts.slice(0, buckets);
  const members = new Int32Array(m * width);
  for (let p = 0; p < m * width; p++) members[fill[order[p]!]!++] = (p / width) | 0;
  for (let b = 0; b < buckets; b++) {
    const first = starts[b]!;
    const last = starts[b + 1]!;
    const reader = scanReaders[b];
    const count = view.counts[b]!;
    if (first === last || reader === undefined || count === 0) continue;
    const orders = view.orders[b]!;
    for (let start = 0; start < count; start += TILE_ROWS) {
      const end = Math.min(count, start + TILE_ROWS);
      for (let at = first; at < last; at++) {
        const i = members[at]!;
        scanRows(reader, orders, queries, (q0 + i) * dim, heaps[i]!, b, start, end);
      }
    }
  }
  for (let i = 0; i < m; i++) {
    const q = q0 + i;
    let scanned = 0;
    for (let p = 0; p < width; p++) scanned += view.counts[order[i * width + p]!]!;
    out.scanned[q] = scanned;
    let heap = heaps[i]!;
    if (candidates > 0) {
      scratch.exact.reset(k);
      rerank(view.readers, heap, queries, q * dim, scratch.exact);
      heap = scratch.exact;
    }
    const drained = heap.drain();
    out.counts[q] = drained.count;
    for (let h = 0; h < drained.count; h++) {
      out.distances[q * k + h] = drained.distances[h]!;
      out.buckets[q * k + h] = drained.buckets[h]!;
      out.slots[q * k + h] = drained.slots[h]!;
    }
  }
}

/**
 * Claims chunks of `chunk` queries from the shared counter until none is left, searching each;
 * every thread of a batch (the owner included) runs this, so a worker that starts late or not at
 * all only leaves more for the others. Returns after the last claimed chunk is finished.
 */
export function claimChunks(
  view: SearchView,
  queries: Float32Array,
  n: number,
  chunk: number,
  k: number,
  probe: number,
  candidates: number,
  out: BatchResults,
  scratch: SearchScratch,
): void {
  const chunks = Math.ceil(n / chunk);
  for (;;) {
    const c = Atomics.add(out.control, 0, 1);
    if (c >= chunks) return;
    try {
      searchRange(view, queries, c * chunk, Math.min(n, (c + 1) * chunk), k, probe, candidates, out, scratch);
    } catch {
      Atomics.store(out.control, 2, 1);
    }
    Atomics.add(out.control, 1, 1);
    Atomics.notify(out.control, 1);
  }
}

/** The owning thread's view: its own readers (slot 0) over the same memory. */
export function ownView(state: SharedIndexState): SearchView {
  const { store } = state;
  return {
    dim: state.dim,
    classes: state.classes,
    anchors: state.anchorReader,
    readers: store.rowReaders,
    codes: store.codeReaders,
    orders: store.blocks.map((block) => block.orders),
    counts: Int32Array.from(store.blocks, (block) => block.count),
  };
}

/** Queries per range of a batch searched on one thread: bounds the heaps its scratch keeps. */
const HERE_RANGE = 1024;

/**
 * A batch searched on the calling thread alone (an index's `searchBatch` without a pool): the
 * same stage 1, bucket-grouped stage 2 and answers as the pooled search, 1,024 queries at a time
 * (so the index's scratch keeps at most that many heaps between batches).
 */
export function searchHere(
  state: SharedIndexState,
  queries: Float32Array,
  n: number,
  k: number,
  probe: number,
  candidates: number,
  scratch: SearchScratch,
): SearchResult[] {
  const results = BatchResults.create(n, k, probe);
  const view = ownView(state);
  for (let start = 0; start < n; start += HERE_RANGE)
    searchRange(
      view,
      queries,
      start,
      Math.min(n, start + HERE_RANGE),
      k,
      probe,
      candidates,
      results,
      scratch,
    );
  return collect(state, results);
}

/** Turns a batch's shared answers into results, reading ids and labels from the store. */
export function collect(state: SharedIndexState, results: BatchResults): SearchResult[] {
  const { store, reportBuckets } = state;
  const { k, probe } = results;
  const out: SearchResult[] = new Array(results.queries);
  for (let q = 0; q < results.queries; q++) {
    const hits = store.hitsAt(
      results.distances,
      results.buckets,
      results.slots,
      q * k,
      results.counts[q]!,
      reportBuckets,
    );
    const result: SearchResult = { hits, scanned: results.scanned[q]! };
    if (state.classes > 0) {
      const probed: { anchor: number; distance: number }[] = new Array(probe);
      for (let p = 0; p < probe; p++) {
        probed[p] = {
          anchor: results.probedAnchors[q * probe + p]!,
          distance: results.probedDistances[q * probe + p]!,
        };
      }
      result.probed = probed;
    }
    out[q] = result;
  }
  return out;
}
