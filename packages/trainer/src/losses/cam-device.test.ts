import { type CamLossOptionsInput, camLoss, Random, resolveCamOptions } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { camLossOnDevice } from './cam-device';

interface Case {
  name: string;
  batch: number;
  classes: number;
  dim: number;
  labels?: number[];
  options?: CamLossOptionsInput;
  /** Pairwise distances from the Gram matrix (the path for large C×C×d). */
  gram?: boolean;
  /** Edits the anchors (C×d) before the comparison. */
  anchors?: (a: Float64Array, dim: number) => void;
}

const cases: Case[] = [
  { name: 'a plain batch', batch: 12, classes: 5, dim: 6 },
  { name: 'classes absent from the batch', batch: 4, classes: 7, dim: 3, labels: [0, 0, 2, 2] },
  {
    name: 'two coinciding anchors (axis sub-gradient)',
    batch: 6,
    classes: 4,
    dim: 5,
    anchors: (a, d) => a.copyWithin(2 * d, 0, d),
  },
  {
    name: 'a zero anchor below the minimum norm',
    batch: 5,
    classes: 4,
    dim: 3,
    anchors: (a, d) => a.fill(0, d, 2 * d),
  },
  {
    name: 'sum and mean reductions, other weights',
    batch: 9,
    classes: 6,
    dim: 4,
    options: {
      margin: 1.3,
      minNorm: 2,
      repellerWeight: 0.4,
      minNormWeight: 2.5,
      reduction: { attractor: 'sum', repeller: 'mean', minNorm: 'mean' },
    },
  },
  { name: 'distances through the Gram matrix', batch: 10, classes: 9, dim: 5, gram: true },
  { name: 'embeddings of norm about 10', batch: 8, classes: 3, dim: 8, options: { margin: 0.5 } },
];

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe('camLossOnDevice against loss-core', () => {
  it.each(cases)('$name: value, terms and both gradients', (c) => {
    const rng = new Random(c.batch * 100 + c.classes);
    const scale = c.name.includes('norm about 10') ? 3.5 : 1;
    const embeddings = Float32Array.from({ length: c.batch * c.dim }, () => rng.normal() * scale);
    const anchors64 = Float64Array.from({ length: c.classes * c.dim }, () => rng.normal() * 0.8);
    c.anchors?.(anchors64, c.dim);
    const anchors = Float32Array.from(anchors64);
    const labels = Int32Array.from(c.labels ?? Array.from({ length: c.batch }, (_, i) => i % c.classes));
    const options = resolveCamOptions({ margin: 1, minNorm: 1.5, ...c.options });
    const expected = camLoss({ embeddings, labels, anchors, dim: c.dim }, options);

    const e = tf.tensor2d(embeddings, [c.batch, c.dim]);
    const a = tf.tensor2d(anchors, [c.classes, c.dim]);
    const y = tf.tensor1d(labels, 'int32');
    const before = tf.memory().numTensors;
    const { value, grads } = tf.valueAndGrads((ee: tf.Tensor, aa: tf.Tensor) => {
      const out = camLossOnDevice(ee as tf.Tensor2D, y, aa as tf.Tensor2D, options, {
        differencesMaxFloats: c.gram ? 0 : undefined,
      });
      const terms = [out.attractor, out.repeller, out.minNorm].map((t) => t.dataSync()[0]!);
      expect(terms[0]).toBeCloseTo(expected.terms.attractor, 4);
      expect(terms[1]).toBeCloseTo(expected.terms.repeller, 4);
      expect(terms[2]).toBeCloseTo(expected.terms.minNorm, 4);
      return out.loss;
    })([e, a]);
    expect(value.dataSync()[0]).toBeCloseTo(expected.loss, 4);
    const close = (got: Float32Array, want: Float32Array) => {
      const scaleMax = Math.max(1, ...Array.from(want, Math.abs));
      for (let i = 0; i < want.length; i++)
        expect(Math.abs(got[i]! - want[i]!) / scaleMax).toBeLessThan(1e-5);
    };
    close(grads[0]!.dataSync() as Float32Array, expected.grad.embeddings);
    close(grads[1]!.dataSync() as Float32Array, expected.grad.anchors);
    if (c.name.includes('coinciding')) {
      // the pair (0, 2) coincides: loss-core moves them apart along axis (0 + 2) mod d
      expect(expected.grad.anchors[0 * c.dim + 2]).not.toBe(0);
    }
    tf.dispose([value, ...grads]);
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([e, a, y]);
  });
});
