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
