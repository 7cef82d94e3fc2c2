import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError, Random } from '@anchorage/loss-core';
import { afterAll, describe, expect, it } from 'vitest';
import { runConformanceSuite } from '../conformance.case.js';
import { squaredL2 } from '../kernel/l2.js';
import { SearchPool } from '../pool/index.js';
import type { SearchResult } from '../types.js';
import { AnchorIndex } from './anchor-index.js';

// With more candidates than items, the compressed stage 2 re-ranks everything it scanned: it must
// then behave exactly as the uncompressed index, so it runs the whole conformance suite, on one
// thread and on a pool.
const ALL = 1 << 20;
runConformanceSuite(
  'AnchorIndex, int8 compression re-ranking every candidate',
  async ({ dim, anchors }) => new AnchorIndex({ dim, anchors, compression: 'int8', rerank: ALL }),
  {
    twoStage: true,
    fullRanking: true,
    load: (path) => AnchorIndex.load(path, { compression: 'int8', rerank: ALL }),
  },
);

const pool = new SearchPool({ workers: 2 });
afterAll(() => pool.close());
runConformanceSuite(
  'AnchorIndex, int8 compression re-ranking every candidate, on a SearchPool',
  async ({ dim, anchors }) => {
    const index = new AnchorIndex({ dim, anchors, compression: 'int8', rerank: ALL });
    index.searchPool = pool;
    return index;
  },
  {
    twoStage: true,
    fullRanking: true,
    load: (path) => AnchorIndex.load(path, { compression: 'int8', rerank: ALL }),
    pool,
  },
);

/** Class-structured data: C anchors with N(0, 1) coordinates, items at anchor + spread·N(0, 1). */
function clustered(n: number, dim: number, classes: number, queries: number, seed: number) {
  const rng = new Random(seed);
  const anchors = Float32Array.from({ length: classes * dim }, () => rng.normal());
  const draw = (count: number) => {
    const vectors = new Float32Array(count * dim);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = Math.floor(rng.nextFloat() * classes);
      labels[i] = c;
      for (let j = 0; j < dim; j++) vectors[i * dim + j] = anchors[c * dim + j]! + 1.5 * rng.normal();
    }
    return { vectors, labels };
  };
  return { anchors, database: draw(n), queries: draw(queries).vectors };
}

function ids(result: SearchResult): (string | number)[] {
  return result.hits.map((h) => h.id);
}

describe('AnchorIndex with int8 compression', () => {
  const dim = 64;
  const classes = 10;
  const n = 20_000;
  const data = clustered(n, dim, classes, 200, 17);
  const itemIds = Array.from({ length: n }, (_, i) => i);
  const build = (options: { compression?: 'int8'; rerank?: number } = {}) => {
    const index = new AnchorIndex({ dim, anchors: data.anchors, ...options });
    index.add({ ids: itemIds, vectors: data.database.vectors });
    return index;
  };
  const exact = build();
  const compressed = build({ compression: 'int8' });

  it('finds the exact top 10 for at least 99 % of them with the default candidates (recall@10)', () => {
    for (const probe of [1, 2]) {
      const truth = exact.searchBatch(data.queries, { k: 10, probe });
      const got = compressed.searchBatch(data.queries, { k: 10, probe });
      let found = 0;
      got.forEach((result, q) => {
        const expected = new Set(ids(truth[q]!));
        for (const id of ids(result)) if (expected.has(id)) found++;
        expect(result.scanned).toBe(truth[q]!.scanned);
        expect(result.probed).toEqual(truth[q]!.probed);
      });
      expect(found / (10 * truth.length)).toBeGreaterThanOrEqual(0.99);
    }
  });

  it('returns exact float32 distances, nearest first, whatever the number of candidates', () => {
    for (const rerank of [10, 13, 40]) {
      const results = compressed.searchBatch(data.queries.subarray(0, 20 * dim), { k: 10, rerank });
      results.forEach((result, q) => {
        expect(result.hits).toHaveLength(10);
        for (const hit of result.hits) {
          const stored = compressed.get(hit.id)!.vector;
          expect(hit.distance).toBe(squaredL2(data.queries, q * dim, stored, 0, dim));
        }
        const distances = result.hits.map((h) => h.distance);
        expect(distances).toEqual([...distances].sort((a, b) => a - b));
      });
    }
  });

  it('recall does not fall as the candidates grow, and reaches the exact answer', () => {
    const queries = data.queries.subarray(0, 50 * dim);
    const truth = exact.searchBatch(queries, { k: 10 });
    let previous = 0;
    for (const rerank of [10, 20, 80, n]) {
      const got = compressed.searchBatch(queries, { k: 10, rerank });
      const found = got.reduce(
        (sum, r, q) => sum + ids(r).filter((id) => ids(truth[q]!).includes(id)).length,
        0,
      );
      expect(found).toBeGreaterThanOrEqual(previous);
      previous = found;
    }
    expect(previous).toBe(500);
  });

  it('search, searchBatch and a pool give the same answers', async () => {
    const queries = data.queries.subarray(0, 64 * dim);
    const batch = compressed.searchBatch(queries, { k: 10, probe: 2, rerank: 25 });
    for (let q = 0; q < 64; q += 9)
      expect(
        compressed.search(queries.subarray(q * dim, (q + 1) * dim), { k: 10, probe: 2, rerank: 25 }),
      ).toEqual(batch[q]);
    const local = new SearchPool({ workers: 1 });
    try {
      expect(local.searchBatch(compressed, queries, { k: 10, probe: 2, rerank: 25 })).toEqual(batch);
      expect(await local.search(compressed, queries, { k: 10, probe: 2, rerank: 25 })).toEqual(batch);
    } finally {
      await local.close();
    }
  });

  it('exact: true and fullRanking scan the float32 rows: the uncompressed answers', () => {
    const queries = data.queries.subarray(0, 10 * dim);
    expect(compressed.searchBatch(queries, { k: 10, exact: true })).toEqual(
      exact.searchBatch(queries, { k: 10 }),
    );
    const one = queries.subarray(0, dim);
    expect(compressed.search(one, { k: 30, fullRanking: true, probe: 2 })).toEqual(
      exact.search(one, { k: 30, fullRanking: true, probe: 2 }),
    );
  });

  it("takes the index's rerank when a search gives none, and never fewer than k", () => {
    const wide = build({ compression: 'int8', rerank: n });
    const queries = data.queries.subarray(0, 10 * dim);
    expect(wide.searchBatch(queries, { k: 10 })).toEqual(exact.searchBatch(queries, { k: 10 }));
    const narrow = build({ compression: 'int8', rerank: 1 });
    const answer = narrow.search(queries.subarray(0, dim), { k: 50 });
    expect(answer.hits).toHaveLength(50);
  });

  it('keeps codes in step with removals and replacements', () => {
    const a = build({ compression: 'int8', rerank: n });
    const b = build();
    for (const index of [a, b]) {
      for (let i = 0; i < n; i += 3) index.remove(i);
      index.add({
        ids: itemIds.slice(0, 500),
        vectors: data.database.vectors.subarray(5000 * dim, 5500 * dim),
      });
    }
    const queries = data.queries.subarray(0, 30 * dim);
    expect(a.searchBatch(queries, { k: 20, probe: 3 })).toEqual(b.searchBatch(queries, { k: 20, probe: 3 }));
  });

  it('keeps codes in step when buckets shrink to a quarter and grow again', () => {
    const a = build({ compression: 'int8', rerank: n });
    const b = build();
    for (const index of [a, b]) {
      // removing 7 items in 8 makes every block give memory back (moving its rows and codes)
      for (let i = 0; i < n; i++) if (i % 8 !== 0) index.remove(i);
      index.add({ ids: itemIds.slice(1, 2000), vectors: data.database.vectors.subarray(dim, 2000 * dim) });
    }
    expect(a.size).toBe(b.size);
    const queries = data.queries.subarray(0, 30 * dim);
    expect(a.searchBatch(queries, { k: 20, probe: 2 })).toEqual(b.searchBatch(queries, { k: 20, probe: 2 }));
    expect(a.search(queries.subarray(0, dim), { k: 5 })).toEqual(
      b.search(queries.subarray(0, dim), { k: 5 }),
    );
  });

  it('survives save and load, rebuilding its codes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'anchorage-int8-'));
    try {
      await compressed.save(join(dir, 'index.anchor'));
      const loaded = await AnchorIndex.load(join(dir, 'index.anchor'), { compression: 'int8' });
      expect(loaded.compression).toBe('int8');
      expect((await AnchorIndex.load(join(dir, 'index.anchor'))).compression).toBe('none');
      const queries = data.queries.subarray(0, 10 * dim);
      expect(loaded.searchBatch(queries, { k: 10 })).toEqual(compressed.searchBatch(queries, { k: 10 }));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('holds its codes in about a quarter of the float32 bytes more', () => {
    const ratio = compressed.memoryBytes / exact.memoryBytes;
    expect(ratio).toBeGreaterThan(1.15);
    expect(ratio).toBeLessThan(1.45);
  });

  it('refuses a bad compression, rerank or exact with a typed error', () => {
    const make = (options: object) => () => new AnchorIndex({ dim, anchors: data.anchors, ...options });
    for (const options of [{ compression: 'int4' }, { compression: 'int8', rerank: 0 }, { rerank: 2.5 }]) {
      expect(make(options)).toThrow(AnchorageError);
      expect(make(options)).toThrow(/compression|rerank/);
    }
    const query = data.queries.subarray(0, dim);
    expect(() => compressed.search(query, { k: 10, rerank: 9 })).toThrow(/rerank must be an integer ≥ k/);
    expect(() => compressed.search(query, { k: 10, exact: 'yes' as unknown as boolean })).toThrow(
      AnchorageError,
    );
    expect(() => compressed.searchBatch(query, { k: 10, rerank: 1.5 })).toThrow(AnchorageError);
  });
});
