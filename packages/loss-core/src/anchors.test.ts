import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorStats, initAnchors } from './anchors';
import { camLoss } from './cam-loss';
import { AnchorageError } from './errors';

function naivePairwise(anchors: Float32Array, dim: number): number[] {
  const out: number[] = [];
  const C = anchors.length / dim;
  for (let i = 0; i < C; i++)
    for (let j = i + 1; j < C; j++) {
      let s = 0;
      for (let k = 0; k < dim; k++) s += (anchors[i * dim + k]! - anchors[j * dim + k]!) ** 2;
      out.push(Math.sqrt(s));
    }
  return out;
}

describe('initAnchors', () => {
  it.each([
    [10, 128],
    [100, 64],
    [2, 1],
    [7, 3],
    [12, 3],
    [40, 2],
    [9, 1],
    [1000, 16],
    [300, 128],
  ])("'spread' puts C=%i anchors in d=%i at least 2m apart with norm ≥ p", (C, d) => {
    for (const [margin, minNorm] of [
      [1, 1],
      [0.25, 3],
      [2, 0],
    ] as const) {
      const anchors = initAnchors(C, d, { seed: 3, margin, minNorm });
      expect(anchors.length).toBe(C * d);
      const stats = anchorStats(anchors, d, { margin, minNorm });
      expect(stats.pairsWithinMargin).toBe(0);
      expect(stats.belowMinNorm).toBe(0);
      if (C > 1)
        expect(naivePairwise(anchors, d).reduce((a, b) => Math.min(a, b))).toBeGreaterThanOrEqual(2 * margin);
      // so the repeller and min-norm terms start at exactly zero
      const r = camLoss(
        { embeddings: anchors.slice(0, d), labels: Int32Array.of(0), anchors, dim: d },
        { margin, minNorm },
      );
      expect(r.terms.repeller).toBe(0);
      expect(r.terms.minNorm).toBe(0);
    }
  });

  it('is deterministic by seed and differs between seeds', () => {
    for (const strategy of ['spread', 'random'] as const) {
      const a = initAnchors(10, 32, { strategy, seed: 1 });
      expect(Array.from(initAnchors(10, 32, { strategy, seed: 1 }))).toEqual(Array.from(a));
      expect(Array.from(initAnchors(10, 32, { strategy, seed: 2 }))).not.toEqual(Array.from(a));
    }
  });

  it("'random' anchors all have the documented norm 1.01·max(p, √2·m)", () => {
    const anchors = initAnchors(50, 16, { strategy: 'random', seed: 5, margin: 0.5, minNorm: 2 });
    for (const n of anchorStats(anchors, 16).norms) expect(n).toBeCloseTo(2.02, 5);
  });

  it('rejects bad arguments with typed errors', () => {
    const bad: [() => unknown, string][] = [
      [() => initAnchors(0, 4), 'classes'],
      [() => initAnchors(3, 0), 'dim'],
      [() => initAnchors(3, 4, { margin: 0 }), 'margin'],
      [() => initAnchors(3, 4, { minNorm: -1 }), 'minNorm'],
      [() => initAnchors(3, 4, { strategy: 'grid' as 'spread' }), 'strategy'],
    ];
    for (const [f, argument] of bad) {
      expect(f).toThrow(AnchorageError);
      try {
        f();
      } catch (e) {
        expect((e as AnchorageError).argument).toBe(argument);
      }
    }
  });
});

describe('anchorStats', () => {
  it('matches a naive computation', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 6 }),
        fc.integer({ min: 0, max: 1000 }),
        (C, d, seed) => {
          const anchors = initAnchors(C, d, { strategy: 'random', seed, margin: 0.5, minNorm: 0.3 });
          // shrink some anchors so both kinds of violation occur
          for (let i = 0; i < anchors.length; i += 3) anchors[i] = anchors[i]! * 0.2;
          const stats = anchorStats(anchors, d, { margin: 0.6, minNorm: 0.6 });
          const dists = naivePairwise(anchors, d);
          const norms = Array.from({ length: C }, (_, c) =>
            Math.hypot(...Array.from(anchors.subarray(c * d, c * d + d))),
          );
          expect(stats.classes).toBe(C);
          norms.forEach((n, c) => {
            expect(stats.norms[c]).toBeCloseTo(n, 5);
          });
          expect(stats.minNorm).toBeCloseTo(Math.min(...norms), 5);
          expect(stats.meanNorm).toBeCloseTo(norms.reduce((a, b) => a + b, 0) / C, 5);
          expect(stats.belowMinNorm).toBe(norms.filter((n) => n < 0.6).length);
          expect(stats.pairsWithinMargin).toBe(dists.filter((x) => x < 1.2).length);
          if (C > 1) {
            expect(stats.minDistance).toBeCloseTo(Math.min(...dists), 5);
            expect(stats.meanDistance).toBeCloseTo(dists.reduce((a, b) => a + b, 0) / dists.length, 5);
          } else {
            expect(stats.minDistance).toBe(0);
            expect(stats.meanDistance).toBe(0);
          }
        },
      ),
    );
  });
});
