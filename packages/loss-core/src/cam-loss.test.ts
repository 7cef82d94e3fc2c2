import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { anchorStats } from './anchors';
import { CamLoss, camLoss } from './cam-loss';
import { AnchorageError } from './errors';
import {
  type CamLossOptions,
  type CamLossOptionsInput,
  DEFAULT_CAM_OPTIONS,
  resolveCamOptions,
} from './options';
import { Random } from './random';
import { referenceLoss } from './testing/reference';

interface Case {
  embeddings: Float64Array;
  labels: Int32Array;
  anchors: Float64Array;
  dim: number;
}

function randomCase(seed: number, batch: number, classes: number, dim: number, scale = 1): Case {
  const rng = new Random(seed);
  const embeddings = new Float64Array(batch * dim).map(() => rng.normal() * scale);
  const anchors = new Float64Array(classes * dim).map(() => rng.normal() * scale);
  const labels = new Int32Array(batch).map(() => rng.nextInt(classes));
  return { embeddings, labels, anchors, dim };
}

/** Central finite differences of the reference loss in float64. */
function finiteDifferences(
  c: Case,
  o: CamLossOptions,
  eps = 1e-6,
): { embeddings: Float64Array; anchors: Float64Array } {
  const f = () => referenceLoss(c.embeddings, c.labels, c.anchors, c.dim, o).loss;
  const diff = (a: Float64Array) =>
    a.map((_, i) => {
      const keep = a[i]!;
      a[i] = keep + eps;
      const up = f();
      a[i] = keep - eps;
      const down = f();
      a[i] = keep;
      return (up - down) / (2 * eps);
    });
  return { embeddings: diff(c.embeddings), anchors: diff(c.anchors) };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Math.abs(a - e) > tol * (1 + Math.abs(e))) {
      throw new Error(`index ${i}: got ${a}, expected ${e} (tolerance ${tol})`);
    }
  }
}

function checkAgainstReference(c: Case, input: CamLossOptionsInput = {}): void {
  const o = resolveCamOptions(input);
  const result = camLoss(c, input);
  const ref = referenceLoss(c.embeddings, c.labels, c.anchors, c.dim, o);
  expect(result.loss).toBeCloseTo(ref.loss, 10);
  expect(result.terms.attractor).toBeCloseTo(ref.attractor, 10);
  expect(result.terms.repeller).toBeCloseTo(ref.repeller, 10);
  expect(result.terms.minNorm).toBeCloseTo(ref.minNorm, 10);
  const fd = finiteDifferences(c, o);
  expectClose(result.grad.embeddings, fd.embeddings, 1e-6);
  expectClose(result.grad.anchors, fd.anchors, 1e-6);
}

describe('camLoss gradients against float64 central finite differences', () => {
  it.each([
    [1, 8, 4, 5],
    [2, 16, 6, 3],
    [3, 5, 10, 7],
    [4, 32, 3, 16],
  ])('random case seed=%i B=%i C=%i d=%i, all reductions and weights', (seed, B, C, d) => {
    // scale 0.7 puts most anchor pairs inside 2m and many norms below p, so all three terms act
    const c = randomCase(seed, B, C, d, 0.7);
    checkAgainstReference(c);
    checkAgainstReference(c, {
      margin: 0.8,
      minNorm: 1.5,
      repellerWeight: 0.3,
      minNormWeight: 2,
      reduction: { attractor: 'sum', repeller: 'mean', minNorm: 'mean' },
    });
  });

  it('an anchor with norm below p and two anchors closer than 2m', () => {
    const c: Case = {
      dim: 3,
      embeddings: Float64Array.from([0.3, -0.2, 0.1, 1, 1, 0]),
      labels: Int32Array.from([0, 2]),
      anchors: Float64Array.from([0.1, 0.2, -0.1, 0.9, 0.4, 0.2, 1.2, 0.1, 0.3]),
    };
    const stats = anchorStats(Float32Array.from(c.anchors), 3, { margin: 1, minNorm: 1 });
    expect(stats.belowMinNorm).toBeGreaterThan(0);
    expect(stats.pairsWithinMargin).toBeGreaterThan(0);
    checkAgainstReference(c);
  });

  it('a class absent from the batch still takes part in the repeller and min-norm terms', () => {
    const c: Case = {
      dim: 2,
      embeddings: Float64Array.from([1, 0, 1.2, 0.1]),
      labels: Int32Array.from([0, 0]),
      anchors: Float64Array.from([1.1, 0, 0.3, 0.4, -0.5, 0.2]),
    };
    const r = camLoss(c);
    // anchors 1 and 2 get no attractor gradient but do get repeller/min-norm gradients
    expect(Math.hypot(r.grad.anchors[2]!, r.grad.anchors[3]!)).toBeGreaterThan(0.1);
    expect(Math.hypot(r.grad.anchors[4]!, r.grad.anchors[5]!)).toBeGreaterThan(0.1);
    checkAgainstReference(c);
  });

  it('d = 1, B = 1, C = 2', () => {
    checkAgainstReference({
      dim: 1,
      embeddings: Float64Array.from([0.4]),
      labels: Int32Array.from([1]),
      anchors: Float64Array.from([0.3, -0.6]),
    });
  });

  it('C = 1: no pairs, the mean repeller is 0 rather than 0/0', () => {
    const c: Case = {
      dim: 2,
      embeddings: Float64Array.from([1, 2]),
      labels: Int32Array.from([0]),
      anchors: Float64Array.from([0.1, 0.1]),
    };
    const r = camLoss(c, { reduction: { repeller: 'mean' } });
    expect(r.terms.repeller).toBe(0);
    checkAgainstReference(c, { reduction: { repeller: 'mean' } });
  });

  it('two coinciding anchors get the documented finite sub-gradient that separates them', () => {
    const c: Case = {
      dim: 3,
      embeddings: Float64Array.from([5, 5, 5]),
      labels: Int32Array.from([2]),
      anchors: Float64Array.from([0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 5, 5, 5]),
    };
    const r = camLoss(c, { margin: 1, minNorm: 0 });
    expect(r.terms.repeller).toBeCloseTo(4, 12); // (2m − 0)² for the one coinciding pair
    // pair (0, 1): axis (0 + 1) mod 3 = 1, coefficient 2·h = 4
    expect(Array.from(r.grad.anchors.subarray(0, 3))).toEqual([0, -4, 0]);
    expect(Array.from(r.grad.anchors.subarray(3, 6))).toEqual([0, 4, 0]);
    expect(r.grad.anchors.every(Number.isFinite)).toBe(true);
    // one small descent step separates them and lowers the loss
    const stepped = c.anchors.map((a, i) => a - 0.01 * r.grad.anchors[i]!);
    expect(camLoss({ ...c, anchors: stepped }, { margin: 1, minNorm: 0 }).loss).toBeLessThan(r.loss);
  });

  it('a zero anchor gets the documented finite sub-gradient that moves it outwards', () => {
    const c: Case = {
      dim: 2,
      embeddings: Float64Array.from([3, 3]),
      labels: Int32Array.from([0]),
      anchors: Float64Array.from([3, 3, 0, 0]),
    };
    const r = camLoss(c, { margin: 0.1, minNorm: 1 });
    expect(r.terms.minNorm).toBeCloseTo(1, 12);
    // anchor 1: axis 1 mod 2 = 1, gradient −λ_N
    expect(Array.from(r.grad.anchors.subarray(2, 4))).toEqual([0, -1]);
  });
});

describe('repeller fast paths agree with the reference', () => {
  it('many anchors at mixed distances (norm pruning, Gram distances, exact fallback)', () => {
    const rng = new Random(11);
    const dim = 6;
    const classes = 24;
    // anchors at very different radii, so some pairs are pruned by their norms alone
    const anchors = new Float64Array(classes * dim).map(
      (_, i) => rng.normal() * (0.2 + (Math.floor(i / dim) % 5)),
    );
    const c: Case = {
      dim,
      anchors,
      embeddings: Float64Array.from(anchors.subarray(0, 2 * dim)),
      labels: Int32Array.of(0, 1),
    };
    checkAgainstReference(c, { margin: 1.5 });
  });

  it('pairs exactly 2m apart are inactive and pairs just inside are active', () => {
    const m = 0.75;
    const exact = Float32Array.of(m, 0, 0, -m, 0, 0, 0, 3, 0);
    const r = camLoss(
      { dim: 3, anchors: exact, embeddings: Float32Array.of(0, 3, 0), labels: Int32Array.of(2) },
      { margin: m, minNorm: 0 },
    );
    expect(r.terms.repeller).toBe(0);
    expect(Array.from(r.grad.anchors.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
    const inside = Float32Array.of(m * 0.999, 0, 0, -m, 0, 0, 0, 3, 0);
    const s = camLoss(
      { dim: 3, anchors: inside, embeddings: Float32Array.of(0, 3, 0), labels: Int32Array.of(2) },
      { margin: m, minNorm: 0 },
    );
    expect(s.terms.repeller).toBeCloseTo((2 * m - 1.999 * m) ** 2, 9);
  });
});

describe('worked example (docs: packages/loss-core/README.md)', () => {
  it('matches the hand-computed values', () => {
    const r = camLoss(
      {
        dim: 2,
        embeddings: Float32Array.from([2, 0, 0, 1.5]),
        labels: Int32Array.from([0, 1]),
        anchors: Float32Array.from([1, 0, 0, 0.5]),
      },
      { margin: 1, minNorm: 1.2 },
    );
    expect(r.terms.attractor).toBeCloseTo(0.5, 6);
    expect(r.terms.repeller).toBeCloseTo(0.777864, 6); // (2 − √1.25)²
    expect(r.terms.minNorm).toBeCloseTo(0.9, 6); // (1.2 − 1) + (1.2 − 0.5)
    expect(r.loss).toBeCloseTo(2.177864, 6);
    expectClose(r.grad.embeddings, [0.5, 0, 0, 0.5], 1e-6);
    expectClose(r.grad.anchors, [-3.077709, 0.788854, 1.577709, -2.288854], 1e-6);
  });
});

describe('CamLoss (allocation-free path)', () => {
  it('equals camLoss and reuses its buffers across calls and batch sizes', () => {
    const cam = new CamLoss({ dim: 4, classes: 5, margin: 0.9 });
    const rng = new Random(7);
    const anchors = new Float32Array(20).map(() => rng.normal());
    let firstAnchorsGrad: Float32Array | undefined;
    for (const batch of [6, 6, 3, 6]) {
      const embeddings = new Float32Array(batch * 4).map(() => rng.normal());
      const labels = new Int32Array(batch).map(() => rng.nextInt(5));
      const expected = camLoss({ embeddings, labels, anchors, dim: 4 }, { margin: 0.9 });
      const got = cam.compute({ embeddings, labels, anchors });
      expect(got.loss).toBe(expected.loss);
      expect(got.terms).toEqual(expected.terms);
      expect(Array.from(got.grad.embeddings)).toEqual(Array.from(expected.grad.embeddings));
      expect(Array.from(got.grad.anchors)).toEqual(Array.from(expected.grad.anchors));
      firstAnchorsGrad ??= got.grad.anchors;
      expect(got.grad.anchors).toBe(firstAnchorsGrad);
    }
  });

  it('rejects anchors of the wrong class count', () => {
    const cam = new CamLoss({ dim: 2, classes: 3 });
    expect(() =>
      cam.compute({
        embeddings: new Float32Array(2),
        labels: new Int32Array(1),
        anchors: new Float32Array(4),
      }),
    ).toThrow(AnchorageError);
  });
});

describe('bad input: typed errors naming the argument', () => {
  const ok = () => ({
    dim: 2,
    embeddings: new Float32Array([1, 2, 3, 4]),
    labels: new Int32Array([0, 1]),
    anchors: new Float32Array([0, 1, 1, 0]),
  });
  const cases: [string, (i: ReturnType<typeof ok>) => unknown, CamLossOptionsInput, string, string][] = [
    [
      'dim not dividing embeddings',
      (i) => Object.assign(i, { embeddings: new Float32Array(5) }),
      {},
      'DIMENSION_MISMATCH',
      'embeddings',
    ],
    [
      'dim not dividing anchors',
      (i) => Object.assign(i, { anchors: new Float32Array(3) }),
      {},
      'DIMENSION_MISMATCH',
      'anchors',
    ],
    ['zero dim', (i) => Object.assign(i, { dim: 0 }), {}, 'INVALID_ARGUMENT', 'dim'],
    ['fractional dim', (i) => Object.assign(i, { dim: 1.5 }), {}, 'INVALID_ARGUMENT', 'dim'],
    [
      'labels of the wrong length',
      (i) => Object.assign(i, { labels: new Int32Array(3) }),
      {},
      'DIMENSION_MISMATCH',
      'labels',
    ],
    [
      'a label ≥ C',
      (i) => Object.assign(i, { labels: new Int32Array([0, 2]) }),
      {},
      'LABEL_OUT_OF_RANGE',
      'labels',
    ],
    [
      'a negative label',
      (i) => Object.assign(i, { labels: new Int32Array([-1, 0]) }),
      {},
      'LABEL_OUT_OF_RANGE',
      'labels',
    ],
    [
      'labels as a plain array',
      (i) => Object.assign(i, { labels: [0, 1] }),
      {},
      'INVALID_ARGUMENT',
      'labels',
    ],
    ['NaN in embeddings', (i) => i.embeddings.fill(Number.NaN, 1, 2), {}, 'NON_FINITE', 'embeddings'],
    ['Inf in anchors', (i) => i.anchors.fill(Number.POSITIVE_INFINITY, 3, 4), {}, 'NON_FINITE', 'anchors'],
    [
      'empty embeddings',
      (i) => Object.assign(i, { embeddings: new Float32Array(0), labels: new Int32Array(0) }),
      {},
      'INVALID_ARGUMENT',
      'embeddings',
    ],
    ['zero margin', () => undefined, { margin: 0 }, 'INVALID_ARGUMENT', 'margin'],
    ['negative margin', () => undefined, { margin: -1 }, 'INVALID_ARGUMENT', 'margin'],
    ['NaN minNorm', () => undefined, { minNorm: Number.NaN }, 'INVALID_ARGUMENT', 'minNorm'],
    ['negative weight', () => undefined, { repellerWeight: -0.1 }, 'INVALID_ARGUMENT', 'repellerWeight'],
    [
      'unknown reduction',
      () => undefined,
      { reduction: { attractor: 'max' as 'sum' } },
      'INVALID_ARGUMENT',
      'reduction.attractor',
    ],
  ];
  it.each(cases)('%s', (_name, mutate, options, code, argument) => {
    const input = ok();
    mutate(input);
    const before = JSON.stringify([...input.embeddings, ...input.anchors]);
    let error: unknown;
    try {
      camLoss(input, options);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AnchorageError);
    expect((error as AnchorageError).code).toBe(code);
    expect((error as AnchorageError).argument).toBe(argument);
    expect((error as AnchorageError).message).toContain(argument.split('.').pop()!);
    expect(JSON.stringify([...input.embeddings, ...input.anchors])).toBe(before);
  });
});

describe('properties', () => {
  const arbCase = fc
    .record({
      batch: fc.integer({ min: 1, max: 6 }),
      classes: fc.integer({ min: 1, max: 6 }),
      dim: fc.integer({ min: 1, max: 5 }),
    })
    .chain(({ batch, classes, dim }) =>
      fc.record({
        dim: fc.constant(dim),
        embeddings: fc.float32Array({
          minLength: batch * dim,
          maxLength: batch * dim,
          noNaN: true,
          noDefaultInfinity: true,
          min: -100,
          max: 100,
        }),
        anchors: fc.float32Array({
          minLength: classes * dim,
          maxLength: classes * dim,
          noNaN: true,
          noDefaultInfinity: true,
          min: -100,
          max: 100,
        }),
        labels: fc
          .array(fc.integer({ min: 0, max: classes - 1 }), { minLength: batch, maxLength: batch })
          .map((l) => Int32Array.from(l)),
        margin: fc.double({ min: 0.01, max: 10, noNaN: true }),
        minNorm: fc.double({ min: 0, max: 10, noNaN: true }),
      }),
    );

  it('loss ≥ 0, every term ≥ 0, and everything finite', () => {
    fc.assert(
      fc.property(arbCase, ({ margin, minNorm, ...input }) => {
        const r = camLoss(input, { margin, minNorm });
        expect(r.loss).toBeGreaterThanOrEqual(0);
        expect(r.terms.attractor).toBeGreaterThanOrEqual(0);
        expect(r.terms.repeller).toBeGreaterThanOrEqual(0);
        expect(r.terms.minNorm).toBeGreaterThanOrEqual(0);
        expect(r.grad.embeddings.every(Number.isFinite) && r.grad.anchors.every(Number.isFinite)).toBe(true);
      }),
    );
  });

  it('L_R = 0 when all anchors are ≥ 2m apart and L_N = 0 when all norms are ≥ p', () => {
    fc.assert(
      fc.property(arbCase, ({ margin, minNorm, ...input }) => {
        const stats = anchorStats(input.anchors, input.dim, { margin, minNorm });
        const r = camLoss(input, { margin, minNorm });
        if (stats.pairsWithinMargin === 0) expect(r.terms.repeller).toBe(0);
        else expect(r.terms.repeller).toBeGreaterThan(0);
        if (stats.belowMinNorm === 0) expect(r.terms.minNorm).toBe(0);
        else expect(r.terms.minNorm).toBeGreaterThan(0);
      }),
    );
  });

  it('gradient descent on the anchors alone reaches zero repeller and min-norm loss', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 2, max: 6 }),
        fc.integer({ min: 1, max: 4 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        (classes, dim, seed) => {
          const rng = new Random(seed);
          let anchors = new Float64Array(classes * dim).map(() => rng.normal() * 0.3);
          const labels = Int32Array.from({ length: classes }, (_, i) => i);
          // descend with a 2% larger margin and norm: the squared hinge then crosses the true
          // thresholds in finitely many steps instead of approaching them asymptotically
          const train = { margin: 1.02, minNorm: 1.02 };
          for (let step = 0; step < 3000; step++) {
            // embeddings sit on their anchors, so the attractor contributes nothing
            const r = camLoss({ embeddings: anchors.slice(), labels, anchors, dim }, train);
            if (r.terms.repeller === 0 && r.terms.minNorm === 0) break;
            anchors = anchors.map((a, i) => a - 0.05 * r.grad.anchors[i]!);
          }
          const final = camLoss(
            { embeddings: anchors.slice(), labels, anchors, dim },
            { margin: 1, minNorm: 1 },
          );
          expect(final.terms.repeller).toBe(0);
          expect(final.terms.minNorm).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });

  it('defaults are the documented ones', () => {
    expect(resolveCamOptions()).toEqual({
      ...DEFAULT_CAM_OPTIONS,
      reduction: { ...DEFAULT_CAM_OPTIONS.reduction },
    });
    expect(DEFAULT_CAM_OPTIONS.reduction).toEqual({ attractor: 'mean', repeller: 'sum', minNorm: 'sum' });
  });
});
