import { initAnchors, Random } from '@anchorage/loss-core';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformanceSuite } from '../conformance.case.js';
import { FlatIndex } from '../flat/index.js';
import { SearchPool } from '../pool/index.js';
import { AnchorIndex } from './anchor-index.js';

runConformanceSuite('AnchorIndex', async ({ dim, anchors }) => new AnchorIndex({ dim, anchors }), {
  twoStage: true,
  fullRanking: true,
  load: (path) => AnchorIndex.load(path),
});

// The same suite with batches on two worker threads and the calling thread (one pool for the file).
const pool = new SearchPool({ workers: 2 });
afterAll(() => pool.close());
runConformanceSuite(
  'AnchorIndex on a SearchPool',
  async ({ dim, anchors }) => {
    const index = new AnchorIndex({ dim, anchors });
    index.searchPool = pool;
    return index;
  },
  {
    twoStage: true,
    fullRanking: true,
    load: (path) => AnchorIndex.load(path),
    pool,
  },
);

describe('AnchorIndex against FlatIndex', () => {
  const dim = 16;
  const classes = 8;
  const n = 2000;
  // Coarsely quantised vectors make many exact distance ties: the tie order must match too.
  const rng = new Random(7);
  const anchors = initAnchors(classes, dim, { seed: 3 });
  const vectors = Float32Array.from({ length: n * dim }, () => Math.round(rng.nextFloat() * 8) / 4);
  const labels = Int32Array.from({ length: n }, () => Math.floor(rng.nextFloat() * classes));
  const ids = Array.from({ length: n }, (_, i) => (i % 5 === 0 ? `s${i}` : i));
  const queries = Float32Array.from({ length: 20 * dim }, () => Math.round(rng.nextFloat() * 8) / 4);

  const build = () => {
    const flat = new FlatIndex({ dim });
    const anchor = new AnchorIndex({ dim, anchors });
    for (const index of [flat, anchor]) {
      index.add({ ids, vectors, labels });
      for (let i = 0; i < n; i += 7) index.remove(ids[i]!);
      index.add({ ids: ids.slice(0, 300), vectors: vectors.slice(0, 300 * dim) });
    }
    return { flat, anchor };
  };

  it('probe = C gives exactly the FlatIndex answer, ties and distances bit for bit', () => {
    const { flat, anchor } = build();
    for (const k of [1, 10, 250, n]) {
      const a = anchor.searchBatch(queries, { k, probe: classes });
      const f = flat.searchBatch(queries, { k });
      for (let q = 0; q < 20; q++) {
        expect(a[q]!.hits.map((h) => [h.id, h.distance])).toEqual(f[q]!.hits.map((h) => [h.id, h.distance]));
        expect(a[q]!.scanned).toBe(flat.size);
      }
      const single = anchor.search(queries.subarray(0, dim), { k, probe: classes });
      expect(single.hits.map((h) => h.id)).toEqual(f[0]!.hits.map((h) => h.id));
    }
  });

  it('a batch of more than 1,024 queries (searched in ranges) answers as one query at a time', () => {
    const { anchor } = build();
    const many = Float32Array.from({ length: 1100 * dim }, () => Math.round(rng.nextFloat() * 8) / 4);
    const batch = anchor.searchBatch(many, { k: 5, probe: 2 });
    expect(batch).toHaveLength(1100);
    for (const q of [0, 1023, 1024, 1099])
      expect(batch[q]).toEqual(anchor.search(many.subarray(q * dim, (q + 1) * dim), { k: 5, probe: 2 }));
  });

  it('full ranking with k = size ranks every item once, probed buckets first', () => {
    const { anchor } = build();
    for (const probe of [1, 3]) {
      const result = anchor.search(queries.subarray(0, dim), { k: anchor.size, probe, fullRanking: true });
      expect(result.hits.length).toBe(anchor.size);
      expect(new Set(result.hits.map((h) => h.id)).size).toBe(anchor.size);
      expect(result.scanned).toBe(anchor.size);
      const probed = new Set(result.probed!.map((p) => p.anchor));
      const firstOutside = result.hits.findIndex((h) => !probed.has(h.bucket));
      const insideCount = result.hits.filter((h) => probed.has(h.bucket)).length;
      expect(firstOutside).toBe(insideCount);
      // The probed head equals the plain two-stage answer.
      const plain = anchor.search(queries.subarray(0, dim), { k: anchor.size, probe });
      expect(result.hits.slice(0, insideCount)).toEqual(plain.hits);
    }
  });

  it('stores vectors in about 4·d bytes plus a small per-item overhead', () => {
    const { anchor } = build();
    const perItem = anchor.memoryBytes / anchor.size;
    expect(perItem).toBeGreaterThan(4 * dim);
    // Doubling leaves at most 2× spare rows per bucket (vector, label, order), plus the id and map
    // entry; each bucket's kernel memory adds its header and rounding up to a 64 KiB page.
    const bound = anchor.size * (2 * (4 * dim + 12) + 48) + classes * (65536 + 4 * dim + 4096);
    expect(anchor.memoryBytes).toBeLessThan(bound + anchors.byteLength);
  });
});
