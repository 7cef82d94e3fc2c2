import { Random } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { RowStore, squaredL2, TILE_ROWS } from '../kernel/l2.js';
import { anchorBuckets, rankAnchors } from './stage-one.js';

/** Every anchor's distance by the JavaScript twin of the kernel, sorted nearest first, ties by index. */
function naive(query: Float32Array, anchors: Float32Array, dim: number): { c: number; d: number }[] {
  const classes = anchors.length / dim;
  return Array.from({ length: classes }, (_, c) => ({
    c,
    d: squaredL2(query, 0, anchors, c * dim, dim),
  })).sort((a, b) => a.d - b.d || a.c - b.c);
}

describe('stage 1 in the SIMD kernel', () => {
  it.each([
    [7, 5],
    [20, 16],
    [TILE_ROWS + 44, 9],
  ])(
    'ranks %i anchors (dim %i) as a full sort of their distances, ties to the lower index, for every count kept',
    (classes, dim) => {
      const rng = new Random(classes);
      // small integers: many exact ties
      const anchors = Float32Array.from({ length: classes * dim }, () => rng.nextInt(3));
      const store = new RowStore(dim, classes, true, 0);
      expect(store.usesSimd).toBe(true);
      store.rows.set(anchors);
      const scratch = new Float32Array(classes);
      for (let q = 0; q < 6; q++) {
        const query = Float32Array.from({ length: dim }, () => rng.nextInt(3));
        const want = naive(query, anchors, dim);
        for (const needed of [1, 2, 5, classes]) {
          const order = new Int32Array(needed);
          const distances = new Float32Array(needed);
          rankAnchors(store, classes, query, 0, needed, order, distances, scratch);
          expect(Array.from(order)).toEqual(want.slice(0, needed).map((x) => x.c));
          expect(Array.from(distances)).toEqual(want.slice(0, needed).map((x) => x.d));
        }
      }
    },
  );

  it('anchorBuckets gives each row its nearest anchor, as AnchorIndex buckets unlabelled items', () => {
    const rng = new Random(3);
    const dim = 6;
    const anchors = Float32Array.from({ length: 9 * dim }, () => rng.nextInt(4));
    const vectors = Float32Array.from({ length: 50 * dim }, () => rng.nextInt(4));
    const got = anchorBuckets(vectors, anchors, dim);
    const want = Array.from(
      { length: 50 },
      (_, i) => naive(vectors.subarray(i * dim, (i + 1) * dim), anchors, dim)[0]!.c,
    );
    expect(Array.from(got)).toEqual(want);
    expect(anchorBuckets(new Float32Array(0), anchors, dim).length).toBe(0);
  });
});
