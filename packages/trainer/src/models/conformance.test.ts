import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomValues } from '../backends/test-support';
import { registerTrainingKernels } from '../backends/training-kernels';
import { prepareWasmBackend } from '../backends/wasm';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../export/onnx-test-support';
import { Random } from '../random';
import { modelFromSnapshot, modelSnapshot } from '../train/checkpoint';
import { createBackbone, listBackbones, registerBackbone } from './registry';

// One suite for every registered backbone. Each runs scaled down (its own options below) so that
// the whole wiring — stems, strides, shortcuts, batch norm, tokens, attention — is exercised at a
// cost CI can pay; a backbone without an entry runs with its defaults.
const SMALL: Record<string, Record<string, number | string>> = {
  resnet18: { width: 0.125 },
  'resnet18-cpu': { width: 0.125 },
  vit: { width: 16, depth: 2, heads: 2, mlpRatio: 2 },
  'vit-tiny': { width: 12, depth: 2, heads: 3, mlpRatio: 2 },
};
// Input sizes each backbone is checked on; resnet's 72×72 takes the ImageNet stem (7×7/2 + pool).
const SIZES: Record<string, [number, number, number][]> = {
  refcnn: [
    [28, 28, 1],
    [32, 32, 3],
  ],
  resnet18: [
    [28, 28, 1],
    [32, 32, 3],
    [72, 72, 3],
  ],
  'resnet18-cpu': [[32, 32, 3]],
  vit: [
    [28, 28, 1],
    [32, 32, 3],
  ],
  'vit-tiny': [[32, 32, 3]],
};
const DEFAULT_SIZES: [number, number, number][] = [[32, 32, 3]];
const DIM = 8;

function build(name: string, inputShape: [number, number, number], seed = 1): tf.LayersModel {
  return createBackbone(name, { inputShape, dim: DIM, seed, ...SMALL[name] });
}

function images(n: number, shape: readonly number[], seed: number): tf.Tensor4D {
  const rng = new Random(seed);
  const size = n * shape.reduce((a, b) => a * b, 1);
  return tf.tensor4d(
    Float32Array.from({ length: size }, () => rng.nextFloat() * 2 - 1),
    [n, ...shape] as [number, number, number, number],
  );
}

/**
 * One training step's gradients (training mode: batch statistics in batch norm) of a fixed random
 * weighting of the embeddings, by every trainable weight; the model's weights set from `values`.
 */
function trainingGradients(
  name: string,
  shape: [number, number, number],
  values: Float32Array[],
): Float32Array[] {
  const model = build(name, shape);
  tf.tidy(() => {
    for (const [i, w] of model.weights.entries()) w.write(tf.tensor(values[i]!, w.shape as number[]));
  });
  const x = images(4, shape, 7);
  const target = tf.tensor2d(randomValues(4 * DIM, 8), [4, DIM]);
  const { value, grads } = tf.variableGrads(
    () => tf.sum(tf.mul(model.apply(x, { training: true }) as tf.Tensor, target)) as tf.Scalar,
    model.trainableWeights.map((w) => w.read() as tf.Variable),
  );
  const out = model.trainableWeights.map(
    (w) => grads[(w.read() as tf.Variable).name]!.dataSync() as Float32Array,
  );
  tf.dispose([value, x, target, ...Object.values(grads)]);
  model.dispose();
  return out;
}

const maxAbs = (a: Float32Array) => a.reduce((m, v) => Math.max(m, Math.abs(v)), 0);

/**
 * max |a − b| / max |b| per weight, the scale floored at 1e-3 of the largest gradient of the step:
 * some gradients are exactly 0 in exact arithmetic (attention's key bias: softmax ignores a
 * constant added to every score of a query), and their float32 residues carry no relative meaning.
 */
function relativeErrors(a: Float32Array[], b: Float32Array[]): number[] {
  const floor = 1e-3 * Math.max(...b.map(maxAbs));
  return a.map((g, i) => {
    let diff = 0;
    for (let k = 0; k < g.length; k++) diff = Math.max(diff, Math.abs(g[k]! - b[i]![k]!));
    return diff / Math.max(maxAbs(b[i]!), floor);
  });
}

/**
 * Seeded non-trivial values for the normalisation weights (γ, β, moving mean and variance) and,
 * unless `all` is false, every other weight too (uniform ±0.5). A deep ResNet keeps its
 * He-initialised kernels: ±0.5 kernels grow activations ~2× per layer over 17 layers.
 */
function randomized(model: tf.LayersModel, seed: number, all: boolean): tf.LayersModel {
  return randomizeWeights(model, seed, all ? undefined : /(moving_mean|moving_variance|gamma|beta)$/);
}

const check = exportChecker();
beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
  await tf.setBackend('cpu');
});
afterAll(() => check.expectNoWarnings());

// A backbone registered at run time goes through the same suite.
const unregister = registerBackbone({
  name: 'test-mlp',
  description: 'flatten, dense(16), dense(d): registered by the test',
  create: ({ inputShape, dim, seed }) =>
    tf.sequential({
      layers: [
        tf.layers.flatten({ inputShape: [...inputShape] }),
        tf.layers.dense({
          units: 16,
          activation: 'relu',
          kernelInitializer: tf.initializers.glorotUniform({ seed }),
        }),
        tf.layers.dense({ units: dim, kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }) }),
      ],
    }),
});
afterAll(unregister);

describe.each(listBackbones())('backbone %s', (name) => {
  const sizes = SIZES[name] ?? DEFAULT_SIZES;

  it('maps N×H×W×C to N×d for every supported input size, leaking no tensor', async () => {
    await tf.setBackend('cpu');
    for (const shape of sizes) {
      const before = tf.memory().numTensors;
      const model = build(name, shape);
      const out = tf.tidy(() => (model.predict(images(3, shape, 1)) as tf.Tensor).shape);
      expect(out).toEqual([3, DIM]);
      const trainOut = tf.tidy(
        () => (model.apply(images(2, shape, 2), { training: true }) as tf.Tensor).shape,
      );
      expect(trainOut).toEqual([2, DIM]);
      model.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });

  it('initialises identically for the same seed and differently for another', async () => {
    await tf.setBackend('cpu');
    const shape = sizes[0]!;
    const [a, b, c] = [build(name, shape, 5), build(name, shape, 5), build(name, shape, 6)];
    const values = (m: tf.LayersModel) => m.getWeights().map((w) => Array.from(w.dataSync()));
    expect(values(a)).toEqual(values(b));
    expect(values(a)).not.toEqual(values(c));
    for (const m of [a, b, c]) m.dispose();
  });

  it('gives the same training-step gradients on wasm as on cpu (1e-4 relative)', async () => {
    const shape = sizes[sizes.length > 1 ? 1 : 0]!;
    await tf.setBackend('cpu');
    const seeded = randomized(build(name, shape, 3), 4, !name.startsWith('resnet'));
    const values = seeded.getWeights().map((w) => Float32Array.from(w.dataSync()));
    seeded.dispose();
    const onCpu = trainingGradients(name, shape, values);
    await tf.setBackend('wasm');
    try {
      const before = tf.memory().numTensors;
      const onWasm = trainingGradients(name, shape, values);
      expect(tf.memory().numTensors).toBe(before);
      expect(onWasm.length).toBe(onCpu.length);
      expect(Math.max(...relativeErrors(onWasm, onCpu))).toBeLessThan(1e-4);
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('reloads through tf.loadLayersModel (its checkpoint form) with identical outputs', async () => {
    await tf.setBackend('cpu');
    const shape = sizes[0]!;
    const model = randomized(build(name, shape, 2), 5, !name.startsWith('resnet'));
    const loaded = await modelFromSnapshot(await modelSnapshot(model));
    const x = images(3, shape, 9);
    const [a, b] = [model, loaded].map((m) => tf.tidy(() => (m.predict(x) as tf.Tensor).dataSync()));
    expect(Array.from(b!)).toEqual(Array.from(a!));
    tf.dispose(x);
    model.dispose();
    loaded.dispose();
  });

  it('exports to ONNX equal to tfjs to 1e-4 at batch 1 and 7', async () => {
    await tf.setBackend('cpu');
    for (const shape of sizes) {
      const model = randomized(build(name, shape, 4), 6, !name.startsWith('resnet'));
      const { bytes } = await check.expectMatch(model);
      if (model.layers.some((l) => l.getClassName() === 'BatchNormalization')) {
        // every batch norm follows a convolution: all fold into it, no node of their own
        const ops = onnxOpTypes(bytes);
        expect(ops).not.toContain('BatchNormalization');
        expect(ops.filter((op) => op === 'Mul' || op === 'Add').length).toBe(
          model.layers.filter((l) => l.getClassName() === 'Add').length,
        );
      }
      model.dispose();
    }
  });
});

describe('input contracts', () => {
  it('refuses images a backbone does not take, naming it and the images', () => {
    expect(() => createBackbone('vit', { inputShape: [30, 30, 3], dim: 8, seed: 1, patch: 4 })).toThrow(
      /backbone "vit" does not take 30×30×3 images: height and width must be multiples of 4/,
    );
    expect(() => createBackbone('resnet18', { inputShape: [4, 4, 1], dim: 8, seed: 1 })).toThrow(
      expect.objectContaining({ code: 'DIMENSION_MISMATCH', argument: 'backbone' }),
    );
    expect(() => createBackbone('resnet18', { inputShape: [32, 32, 3], dim: 8, seed: 1, width: -1 })).toThrow(
      AnchorageError,
    );
    expect(() => createBackbone('refcnn', { inputShape: [32, 32, 3], dim: 8, seed: 1, width: 1 })).toThrow(
      /backbone "refcnn" has no option width/,
    );
  });
});
