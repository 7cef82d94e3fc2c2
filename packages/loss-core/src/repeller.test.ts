import { describe, expect, it } from 'vitest';
import { resolveCamOptions } from './options';
import { Random } from './random';
import { createRepellerWorkspace, repellerInto } from './repeller';
import { referenceLoss } from './testing/reference';

describe('repellerInto: dense (C×C coefficients) and sparse (pair by pair) paths', () => {
  it.each([
    [1, 3],
    [2, 1],
    [5, 3],
    [7, 6],
    [13, 5],
    [18, 9],
  ])('C=%i d=%i: both paths agree with each other and with the reference', (classes, dim) => {
    const rng = new Random(classes * 31 + dim);
    const anchors = new Float64Array(classes * dim).map(() => rng.normal() * 0.6);
    if (classes > 3) anchors.copyWithin(dim, 0, dim); // two coinciding anchors
    const options = resolveCamOptions({ margin: 0.9, repellerWeight: 0.7 });
    const dense = new Float64Array(anchors.length);
    const sparse = new Float64Array(anchors.length);
    const denseWork = createRepellerWorkspace(classes, dim, true);
    repellerInto(anchors, classes, dim, options, dense, denseWork);
    const valueDense = denseWork.sum;
    const sparseWork = createRepellerWorkspace(classes, dim, false);
    repellerInto(anchors, classes, dim, options, sparse, sparseWork);
    const valueSparse = sparseWork.sum;
    const ref = referenceLoss(new Float64Array(dim), Int32Array.of(0), anchors, dim, options).repeller;
    expect(valueDense).toBeCloseTo(ref, 10);
    expect(valueSparse).toBeCloseTo(ref, 10);
    for (let i = 0; i < anchors.length; i++) expect(sparse[i]).toBeCloseTo(dense[i]!, 10);
  });
});

/** ∂L_R/∂c_y written pair by pair from the formula: Σ_{z≠y} −2·(2m − ‖c_y − c_z‖)₊ · (c_y − c_z)/‖c_y − c_z‖. */
function literalRepellerGradient(
  anchors: Float64Array,
  classes: number,
  dim: number,
  margin: number,
): Float64Array {
  const grad = new Float64Array(classes * dim);
  const diff = new Float64Array(dim);
  for (let y = 0; y < classes; y++) {
    for (let z = 0; z < classes; z++) {
      if (y === z) continue;
      let d2 = 0;
      for (let k = 0; k < dim; k++) {
        diff[k] = anchors[y * dim + k]! - anchors[z * dim + k]!;
        d2 += diff[k]! ** 2;
      }
      const d = Math.sqrt(d2);
      const gap = 2 * margin - d;
      if (gap <= 0) continue;
      for (let k = 0; k < dim; k++) grad[y * dim + k]! -= (2 * gap * diff[k]!) / d;
    }
  }
  return grad;
}

describe('repellerInto: the sparse path against independent references', () => {
  it.each([
    [5, 3],
    [13, 4],
  ])(
    'C=%i d=%i (sparse forced): gradient equals central finite differences of the reference value',
    (classes, dim) => {
      const rng = new Random(classes * 7 + dim);
      const anchors = new Float64Array(classes * dim).map(() => rng.normal() * 0.6);
      const options = resolveCamOptions({ margin: 0.9, repellerWeight: 1 });
      const grad = new Float64Array(anchors.length);
      repellerInto(anchors, classes, dim, options, grad, createRepellerWorkspace(classes, dim, false));
      const value = (a: Float64Array) =>
        referenceLoss(new Float64Array(dim), Int32Array.of(0), a, dim, options).repeller;
      const h = 1e-6;
      let active = 0;
      for (let i = 0; i < anchors.length; i++) {
        const plus = anchors.slice();
        const minus = anchors.slice();
        plus[i]! += h;
        minus[i]! -= h;
        const numeric = (value(plus) - value(minus)) / (2 * h);
        expect(grad[i]).toBeCloseTo(numeric, 6);
        if (Math.abs(numeric) > 1e-3) active++;
      }
      expect(active).toBeGreaterThan(0); // some pairs are inside the margin, so the check is not vacuous
    },
  );

  it('C=2100 (past the dense limit, so sparse by default): value and gradient equal the pair-by-pair formula', () => {
    const classes = 2100;
    const dim = 8;
    const rng = new Random(2100);
    const anchors = new Float64Array(classes * dim).map(() => rng.normal());
    const options = resolveCamOptions({ margin: 1.5, repellerWeight: 1 });
    const work = createRepellerWorkspace(classes, dim);
    expect(work.dense).toBe(false);
    const grad = new Float64Array(anchors.length);
    repellerInto(anchors, classes, dim, options, grad, work);

    const expected = literalRepellerGradient(anchors, classes, dim, options.margin);
    let value = 0;
    let activePairs = 0;
    for (let y = 0; y < classes; y++) {
      for (let z = y + 1; z < classes; z++) {
        let d2 = 0;
        for (let k = 0; k < dim; k++) d2 += (anchors[y * dim + k]! - anchors[z * dim + k]!) ** 2;
        const gap = Math.max(0, 2 * options.margin - Math.sqrt(d2));
        if (gap > 0) activePairs++;
        value += gap * gap; // each unordered pair counts once with weight 1 (½ × two ordered pairs)
      }
    }
    expect(activePairs).toBeGreaterThan(1000);
    expect(work.sum).toBeCloseTo(value, 6);
    let worst = 0;
    let scale = 0;
    for (let i = 0; i < grad.length; i++) {
      worst = Math.max(worst, Math.abs(grad[i]! - expected[i]!));
      scale = Math.max(scale, Math.abs(expected[i]!));
    }
    expect(worst / scale).toBeLessThan(1e-10);
  });
});
