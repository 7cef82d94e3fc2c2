import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { AnchorageError } from './errors';
import { nearestAnchors, nearestAnchorsInto } from './nearest';
import { Random } from './random';

function naive(vectors: Float32Array, anchors: Float32Array, dim: number, k: number) {
  const n = vectors.length / dim;
  const C = anchors.length / dim;
  return Array.from({ length: n }, (_, q) => {
    const all = Array.from({ length: C }, (_, c) => {
      let s = 0;
      for (let t = 0; t < dim; t++) s += (vectors[q * dim + t]! - anchors[c * dim + t]!) ** 2;
      return { c, d: Math.fround(s) };
    });
    all.sort((a, b) => a.d - b.d || a.c - b.c);
    return all.slice(0, k);
  });
}

describe('nearestAnchors', () => {
  it('equals a full sort for random data, every k', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 0, max: 12 }),
        fc.integer({ min: 0, max: 10_000 }),
        (C, dim, n, seed) => {
          const rng = new Random(seed);
          // integer coordinates make ties common
          const anchors = new Float32Array(C * dim).map(() => rng.nextInt(3));
          const vectors = new Float32Array(n * dim).map(() => rng.nextInt(3));
          for (let k = 1; k <= C; k++) {
            const got = nearestAnchors(vectors, anchors, dim, k);
            const want = naive(vectors, anchors, dim, k);
            expect(Array.from(got.indices)).toEqual(want.flatMap((r) => r.map((x) => x.c)));
            expect(Array.from(got.distances)).toEqual(want.flatMap((r) => r.map((x) => x.d)));
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('nearestAnchorsInto gives the same answer with a C-long scratch (one vector at a time) as with 4·C', () => {
    const rng = new Random(9);
    const dim = 7;
    const classes = 11;
    const n = 9;
    const anchors = new Float32Array(classes * dim).map(() => rng.normal());
    const vectors = new Float32Array(n * dim).map(() => rng.normal());
    const want = nearestAnchors(vectors, anchors, dim, 3);
    const indices = new Int32Array(n * 3);
    const distances = new Float32Array(n * 3);
    nearestAnchorsInto(vectors, anchors, dim, 3, indices, distances, new Float64Array(classes));
    expect(Array.from(indices)).toEqual(Array.from(want.indices));
    expect(Array.from(distances)).toEqual(Array.from(want.distances));
  });

  it('returns squared distances, nearest first', () => {
    const r = nearestAnchors(Float32Array.of(0, 0), Float32Array.of(3, 4, 1, 0, 0, 2), 2, 3);
    expect(Array.from(r.indices)).toEqual([1, 2, 0]);
    expect(Array.from(r.distances)).toEqual([1, 4, 25]);
  });

  it('rejects k outside 1..C, a bad dim and non-finite vectors', () => {
    const anchors = new Float32Array(6);
    expect(() => nearestAnchors(new Float32Array(2), anchors, 2, 0)).toThrow(AnchorageError);
    expect(() => nearestAnchors(new Float32Array(2), anchors, 2, 4)).toThrow(/1\.\.3/);
    expect(() => nearestAnchors(new Float32Array(3), anchors, 2, 1)).toThrow(/multiple of dim/);
    expect(() => nearestAnchors(Float32Array.of(1, Number.NaN), anchors, 2, 1)).toThrow(/non-finite/);
  });
});
