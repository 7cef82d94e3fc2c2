import '@tensorflow/tfjs-backend-wasm';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { TfCamLoss } from './cam-op';

const B = 12;
const C = 5;
const D = 8;
const margin = 2.5;
const minNorm = 3;
const repellerWeight = 0.7;
const minNormWeight = 1.3;

/** A small deterministic generator so the fixture is the same on every backend. */
function fixture(seed: number): { embeddings: Float32Array; anchors: Float32Array; labels: Int32Array } {
  let s = seed >>> 0;
  const next = (): number => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32 - 0.5;
  };
  const embeddings = Float32Array.from({ length: B * D }, () => 4 * next());
  // Anchors of norms spread around minNorm and pairwise distances around 2·margin, so every
  // term has active and inactive parts.
  const anchors = Float32Array.from({ length: C * D }, () => 3 * next());
  const labels = Int32Array.from({ length: B }, (_, i) => i % (C - 1)); // class C−1 absent
  return { embeddings, anchors, labels };
}

/** The CAM formula (apps/docs/src/concepts/cam-loss.md) written with tfjs ops, so tfjs autograd differentiates it. */
function referenceLoss(
  e: tf.Tensor2D,
  a: tf.Tensor2D,
  labels: Int32Array,
  attractorReduction: 'mean' | 'sum',
): tf.Scalar {
  // One-hot matmul instead of gather: wasm has no UnsortedSegmentSum for gather's gradient.
  const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), C).toFloat();
  const cy = tf.matMul(oneHot, a);
  const perItem = tf.mul(0.5, tf.sum(tf.square(tf.sub(e, cy)), 1));
  const attractor = attractorReduction === 'mean' ? tf.mean(perItem) : tf.sum(perItem);
  const diffs = tf.sub(tf.expandDims(a, 1), tf.expandDims(a, 0));
  const eye = tf.eye(C);
  // +eye keeps sqrt's gradient finite on the diagonal, which the mask removes anyway.
  const dist = tf.sqrt(tf.add(tf.sum(tf.square(diffs), 2), eye));
  const repeller = tf.mul(0.5, tf.sum(tf.mul(tf.square(tf.relu(tf.sub(2 * margin, dist))), tf.sub(1, eye))));
  const norms = tf.sqrt(tf.sum(tf.square(a), 1));
  const minNormTerm = tf.sum(tf.relu(tf.sub(minNorm, norms)));
  return tf.addN([
    attractor,
    tf.mul(repellerWeight, repeller),
    tf.mul(minNormWeight, minNormTerm),
  ]) as tf.Scalar;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

describe.each(['cpu', 'wasm'])('TfCamLoss on %s', (backend) => {
  it.each(['mean', 'sum'] as const)(
    'value and gradients equal tfjs autograd (attractor %s)',
    async (reduction) => {
      await tf.setBackend(backend);
      const { embeddings, anchors, labels } = fixture(7);
      const cam = new TfCamLoss({
        classes: C,
        dim: D,
        anchors,
        margin,
        minNorm,
        repellerWeight,
        minNormWeight,
        reduction: { attractor: reduction, repeller: 'sum', minNorm: 'sum' },
      });
      const e = tf.tensor2d(embeddings, [B, D]);
      // `apply` reads `cam.anchors` itself; passing the same variable makes tf.grads differentiate by it.
      const ours = tf.grads((x: tf.Tensor, _anchors: tf.Tensor) => cam.apply(x as tf.Tensor2D, labels));
      const [gE, gA] = ours([e, cam.anchors]) as [tf.Tensor, tf.Tensor];
      const a = tf.tensor2d(anchors, [C, D]);
      const [rE, rA] = tf.grads((x: tf.Tensor, y: tf.Tensor) =>
        referenceLoss(x as tf.Tensor2D, y as tf.Tensor2D, labels, reduction),
      )([e, a]) as [tf.Tensor, tf.Tensor];
      const ref = referenceLoss(e, a, labels, reduction).dataSync()[0]!;
      expect(cam.lastTerms!.loss).toBeCloseTo(ref, 4);
      expect(cam.lastTerms!.repeller).toBeGreaterThan(0);
      expect(cam.lastTerms!.minNorm).toBeGreaterThan(0);
      expect(maxAbsDiff(gE.dataSync() as Float32Array, rE.dataSync() as Float32Array)).toBeLessThan(1e-5);
      expect(maxAbsDiff(gA.dataSync() as Float32Array, rA.dataSync() as Float32Array)).toBeLessThan(1e-5);
      tf.dispose([e, a, gE, gA, rE, rA]);
      cam.dispose();
    },
  );

  it('scales gradients by the upstream gradient', async () => {
    await tf.setBackend(backend);
    const { embeddings, anchors, labels } = fixture(3);
    const cam = new TfCamLoss({ classes: C, dim: D, anchors, margin, minNorm });
    const e = tf.tensor2d(embeddings, [B, D]);
    const g1 = tf.grad((x: tf.Tensor) => cam.apply(x as tf.Tensor2D, labels))(e);
    const g3 = tf.grad((x: tf.Tensor) => tf.mul(-3, cam.apply(x as tf.Tensor2D, labels)))(e);
    const expected = (g1.dataSync() as Float32Array).map((v) => -3 * v);
    expect(maxAbsDiff(g3.dataSync() as Float32Array, expected)).toBeLessThan(1e-5);
    tf.dispose([e, g1, g3]);
    cam.dispose();
  });

  it('leaks no tensors across training steps', async () => {
    await tf.setBackend(backend);
    const { embeddings, anchors, labels } = fixture(11);
    const cam = new TfCamLoss({ classes: C, dim: D, anchors, margin, minNorm });
    const weights = tf.variable(tf.randomNormal([D, D], 0, 0.3, 'float32', 5));
    const x = tf.tensor2d(embeddings, [B, D]);
    const modelOptimizer = tf.train.adam(0.01);
    const anchorOptimizer = tf.train.adam(0.1);
    const step = (): void => {
      const { value, grads } = tf.variableGrads(
        () => cam.apply(tf.matMul(x, weights), labels),
        [weights, cam.anchors],
      );
      modelOptimizer.applyGradients([{ name: weights.name, tensor: grads[weights.name]! }]);
      anchorOptimizer.applyGradients([{ name: cam.anchors.name, tensor: grads[cam.anchors.name]! }]);
      tf.dispose([value, ...Object.values(grads)]);
    };
    step(); // the optimisers create their slots on the first step
    const before = tf.memory().numTensors;
    const anchorsBefore = cam.anchorValues();
    for (let i = 0; i < 5; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    expect(maxAbsDiff(cam.anchorValues(), anchorsBefore)).toBeGreaterThan(0);
    modelOptimizer.dispose();
    anchorOptimizer.dispose();
    tf.dispose([x, weights]);
    cam.dispose();
  });
});

describe('TfCamLoss input checks', () => {
  it('rejects anchors of the wrong size and embeddings of the wrong width', () => {
    expect(() => new TfCamLoss({ classes: 3, dim: 4, anchors: new Float32Array(11) })).toThrow(/anchors/);
    const cam = new TfCamLoss({ classes: 3, dim: 4, anchors: new Float32Array(12).fill(1) });
    const e = tf.zeros([2, 5]) as tf.Tensor2D;
    expect(() => cam.apply(e, new Int32Array([0, 1]))).toThrow(/embeddings/);
    e.dispose();
    cam.dispose();
  });
});
