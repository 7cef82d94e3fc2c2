import { afterAll, describe, expect, it } from 'vitest';
import { runConformanceSuite } from '../conformance.case.js';
import { squaredL2 } from '../kernel/l2.js';
import { SearchPool } from '../pool/index.js';
import { FlatIndex } from './flat-index.js';

runConformanceSuite('FlatIndex', async ({ dim }) => new FlatIndex({ dim }), {
  twoStage: false,
  load: (path) => FlatIndex.load(path),
});

// The same suite with batches on two worker threads and the calling thread (one pool for the file).
const pool = new SearchPool({ workers: 2 });
afterAll(() => pool.close());
runConformanceSuite(
  'FlatIndex on a SearchPool',
  async ({ dim }) => {
    const index = new FlatIndex({ dim });
    index.searchPool = pool;
    return index;
  },
  {
    twoStage: false,
    load: (path) => FlatIndex.load(path),
    pool,
  },
);

describe('FlatIndex storage', () => {
  it('keeps every item and exact answers while blocks grow and shrink', () => {
    const dim = 12;
    const n = 3000;
    const vectors = Float32Array.from({ length: n * dim }, (_, i) => Math.sin(i * 0.37) * 5);
    const ids = Array.from({ length: n }, (_, i) => `v${i}`);
    const index = new FlatIndex({ dim });
    for (let start = 0; start < n; start += 250) {
      index.add({
        ids: ids.slice(start, start + 250),
        vectors: vectors.subarray(start * dim, (start + 250) * dim),
      });
    }
    const grown = index.memoryBytes;
    // Removing nine in ten items shrinks the block (its memory is reallocated and copied).
    for (let i = 0; i < n; i++) if (i % 10 !== 0) index.remove(ids[i]!);
    expect(index.size).toBe(300);
    expect(index.memoryBytes).toBeLessThan(grown / 2);
    for (let i = 0; i < n; i += 10) {
      expect(Array.from(index.get(ids[i]!)!.vector)).toEqual(
        Array.from(vectors.subarray(i * dim, (i + 1) * dim)),
      );
    }
    const query = vectors.slice(50 * dim, 51 * dim);
    const hits = index.search(query, { k: 300 }).hits;
    expect(hits[0]).toMatchObject({ id: 'v50', distance: 0 });
    const expected = Array.from({ length: 300 }, (_, j) => j * 10)
      .map((i) => ({ id: ids[i]!, d: squaredL2(query, 0, vectors, i * dim, dim), i }))
      .sort((a, b) => a.d - b.d || a.i - b.i);
    expect(hits.map((h) => h.id)).toEqual(expected.map((e) => e.id));
  });
});
