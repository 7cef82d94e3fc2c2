import { Random } from '@anchorage/loss-core';
import type { AnchorIndex } from '../anchor/index.js';
import type { FlatIndex } from '../flat/index.js';

/** Clustered synthetic data: C centres, items around them with their cluster as label. */
export function syntheticClusters(options: {
  n: number;
  dim: number;
  classes: number;
  queries: number;
  seed?: number;
}) {
  const { n, dim, classes, queries } = options;
  const rng = new Random(options.seed ?? 1);
  const anchors = Float32Array.from({ length: classes * dim }, () => rng.normal() * 2);
  const sample = (count: number) => {
    const labels = new Int32Array(count);
    const vectors = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      const c = i % classes;
      labels[i] = c;
      for (let j = 0; j < dim; j++) vectors[i * dim + j] = anchors[c * dim + j]! + rng.normal() * 0.5;
    }
    return { labels, vectors };
  };
  const database = sample(n);
  return { anchors, database, queries: sample(queries).vectors };
}

/** One row of the quick benchmark table. */
export interface BenchRow {
  index: string;
  /** Median single-query latency, milliseconds. */
  latencyMs: number;
  /** Batch throughput (searchBatch of all queries), queries per second. */
  batchQps: number;
  /** Mean recall@k against the FlatIndex answer. */
  recallAtK: number;
  /** Mean fraction of the database compared in stage 2. */
  scannedFraction: number;
  /** FlatIndex median latency divided by this row's. */
  speedup: number;
  /** The index's own estimate of its memory per item (typed arrays, ids, id map), bytes. */
  bytesPerItem: number;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

function timeMs(action: () => void): number {
  const start = process.hrtime.bigint();
  action();
  return Number(process.hrtime.bigint() - start) / 1e6;
}

/**
 * Times FlatIndex against AnchorIndex at each probe on the same queries, in one process: median
 * single-query latency, batch throughput (median of `repeats`), recall@k and scanned fraction.
 */
export function quickBench(
  flat: FlatIndex,
  anchor: AnchorIndex,
  queries: Float32Array,
  options: { k: number; probes: number[]; repeats?: number; onStep?: () => void },
): BenchRow[] {
  const dim = flat.dim;
  const q = queries.length / dim;
  const repeats = options.repeats ?? 3;
  const k = options.k;
  const truth = flat.searchBatch(queries, { k }).map((r) => new Set(r.hits.map((h) => h.id)));
  // Warm up the JIT on both indexes so the first row is not charged for compilation.
  for (let i = 0; i < Math.min(q, 20); i++) {
    flat.search(queries.subarray(i * dim, (i + 1) * dim), { k });
    for (const probe of options.probes) anchor.search(queries.subarray(i * dim, (i + 1) * dim), { k, probe });
  }
  const measure = (
    name: string,
    search: (query: Float32Array) => unknown,
    batch: () => { hits: { id: unknown }[]; scanned: number }[],
  ) => {
    const latencies: number[] = [];
    for (let i = 0; i < q; i++)
      latencies.push(timeMs(() => search(queries.subarray(i * dim, (i + 1) * dim))));
    let results: { hits: { id: unknown }[]; scanned: number }[] = [];
    const batchTimes: number[] = [];
    for (let r = 0; r < repeats; r++) batchTimes.push(timeMs(() => (results = batch())));
    let recall = 0;
    let scanned = 0;
    results.forEach((result, i) => {
      recall += result.hits.filter((h) => truth[i]!.has(h.id as never)).length / Math.max(1, truth[i]!.size);
      scanned += flat.size === 0 ? 1 : result.scanned / flat.size;
    });
    options.onStep?.();
    return {
      index: name,
      latencyMs: median(latencies),
      batchQps: q / (median(batchTimes) / 1000),
      recallAtK: recall / q,
      scannedFraction: scanned / q,
      speedup: 1,
      bytesPerItem: 0,
    };
  };
  const rows = [
    measure(
      'FlatIndex',
      (query) => flat.search(query, { k }),
      () => flat.searchBatch(queries, { k }),
    ),
  ];
  for (const probe of options.probes) {
    rows.push(
      measure(
        `AnchorIndex probe=${probe}`,
        (query) => anchor.search(query, { k, probe }),
        () => anchor.searchBatch(queries, { k, probe }),
      ),
    );
  }
  for (const row of rows) {
    row.speedup = rows[0]!.latencyMs / row.latencyMs;
    const index = row === rows[0] ? flat : anchor;
    row.bytesPerItem = index.size === 0 ? 0 : index.memoryBytes / index.size;
  }
  return rows;
}
