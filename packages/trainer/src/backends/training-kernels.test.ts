import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from '../models/registry';
import { maxAbsDiff, randomValues, runOn } from './test-support';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
});

/** Gradient of sum(op(x) · w) with respect to x, for a fixed random weighting w. */
function gradOf(op: (x: tf.Tensor) => tf.Tensor, shape: number[]): () => tf.Tensor {
  return () => {
    const x = tf.tensor(randomValues(tf.util.sizeFromShape(shape), 4), shape);
    const outShape = tf.tidy(() => op(x).shape);
    const w = tf.tensor(randomValues(tf.util.sizeFromShape(outShape), 5), outShape);
    return tf.grad((xx: tf.Tensor) => tf.sum(tf.mul(op(xx), w)))(x);
  };
}

// Every op on refcnn's backward path besides Conv2D, each checked on wasm against cpu.
const ops: Array<[string, (x: tf.Tensor) => tf.Tensor, number[]]> = [
  ['maxPool 2×2 stride 2', (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), [2, 6, 6, 3]],
  ['maxPool 2×2 stride 2 on odd size', (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'), [2, 7, 7, 3]],
  // after ReLU whole windows are 0: ties must go to the first element, as on cpu
  [
    'maxPool 2×2 on tied values',
    (x) => tf.maxPool(tf.relu(tf.sub(x, 1.5)) as tf.Tensor4D, 2, 2, 'valid'),
    [2, 6, 6, 3],
  ],
  // channels a multiple of 4 take the SIMD kernel
  [
    'maxPool 2×2 stride 2, SIMD kernel, odd size',
    (x) => tf.maxPool(x as tf.Tensor4D, 2, 2, 'valid'),
    [2, 7, 9, 8],
  ],
  [
    'maxPool 2×2, SIMD kernel, tied values',
    (x) => tf.maxPool(tf.relu(tf.sub(x, 1.5)) as tf.Tensor4D, 2, 2, 'valid'),
    [2, 6, 6, 4],
  ],
  [
    'maxPool 3×3 stride 2 same (overlapping windows)',
    (x) => tf.maxPool(x as tf.Tensor4D, 3, 2, 'same'),
    [2, 7, 7, 3],
  ],
  // 150 elements: the SIMD pass and a scalar tail of 2
  ['relu', (x) => tf.relu(x), [3, 5, 5, 2]],
  ['relu at exactly 0 (gradient 0, as tfjs)', (x) => tf.relu(tf.round(x)), [4, 8]],
  ['global average pool (mean over H, W)', (x) => tf.mean(x, [1, 2]), [3, 4, 5, 6]],
  [
    'dense (matMul + bias)',
    (x) => tf.add(tf.matMul(x as tf.Tensor2D, tf.ones([6, 3]) as tf.Tensor2D), tf.ones([3])),
    [4, 6],
  ],
  [
    // the pieces of a transformer block: layer norm, batched attention with softmax, tanh-GELU
    'layer norm + self-attention + GELU (the ops a small ViT needs)',
    (x) => {
      const { mean, variance } = tf.moments(x, -1, true);
      const normed = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 1e-5)));
      const scores = tf.softmax(tf.div(tf.matMul(normed, normed, false, true), Math.sqrt(x.shape[2]!)));
      const attended = tf.matMul(scores, normed);
      const inner = tf.mul(Math.sqrt(2 / Math.PI), tf.add(attended, tf.mul(0.044715, tf.pow(attended, 3))));
      return tf.mul(tf.mul(0.5, attended), tf.add(1, tf.tanh(inner)));
    },
    [2, 5, 8],
  ],
  [
    'fused conv + bias + relu (as tfjs layers runs it)',
    (x) =>
      tf.fused.conv2d({
        x: x as tf.Tensor4D,
        filter: tf.tensor4d(randomValues(3 * 3 * 2 * 4, 6), [3, 3, 2, 4]),
        bias: tf.tensor1d(randomValues(4, 7)),
        strides: 1,
        pad: 'same',
        activation: 'relu',
      }),
    [2, 6, 6, 2],
  ],
];

describe('training kernels on wasm', () => {
  for (const [name, op, shape] of ops) {
    it(`${name}: gradient equals the cpu backend's`, async () => {
      const [reference] = await runOn('cpu', gradOf(op, shape));
      const [actual] = await runOn('wasm', gradOf(op, shape));
      expect(maxAbsDiff(actual!, reference!)).toBeLessThanOrEqual(1e-4);
    });
  }

  it("refcnn's full backward pass on wasm equals cpu's", async () => {
    const grads = (backend: 'cpu' | 'wasm') =>
      runOn(backend, () => {
        const model = createBackbone('refcnn', { inputShape: [12, 12, 1], dim: 8, seed: 3 });
        const x = tf.tensor4d(randomValues(2 * 12 * 12, 8), [2, 12, 12, 1]);
        const { grads: g } = tf.variableGrads(
          () => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar,
        );
        const out = model.trainableWeights.map((w) => g[w.name]!);
        model.dispose();
        return out;
      });
    const reference = await grads('cpu');
    const actual = await grads('wasm');
    expect(actual.length).toBe(8);
    for (let i = 0; i < reference.length; i++) {
      const scale = Math.max(1, ...Array.from(reference[i]!, Math.abs));
      expect(maxAbsDiff(actual[i]!, reference[i]!) / scale).toBeLessThanOrEqual(1e-4);
    }
  });

  it('a residual block with batch norm (the layers resnet18 will use) trains on wasm like on cpu', async () => {
    const grads = (backend: 'cpu' | 'wasm') =>
      runOn(backend, () => {
        const seed = { seed: 11 };
        const input = tf.input({ shape: [8, 8, 3] });
        const conv = (filters: number, kernelSize: number, strides: number, name: string) =>
          tf.layers.conv2d({
            filters,
            kernelSize,
            strides,
            padding: 'same',
            useBias: false,
            name,
            kernelInitializer: tf.initializers.glorotUniform(seed),
          });
        let y = conv(8, 3, 2, 'c1').apply(input) as tf.SymbolicTensor;
        y = tf.layers.batchNormalization({ name: 'bn1' }).apply(y) as tf.SymbolicTensor;
        y = tf.layers.reLU().apply(y) as tf.SymbolicTensor;
        y = conv(8, 3, 1, 'c2').apply(y) as tf.SymbolicTensor;
        y = tf.layers.batchNormalization({ name: 'bn2' }).apply(y) as tf.SymbolicTensor;
        const shortcut = conv(8, 1, 2, 'short').apply(input) as tf.SymbolicTensor;
        y = tf.layers.add().apply([y, shortcut]) as tf.SymbolicTensor;
        y = tf.layers.reLU().apply(y) as tf.SymbolicTensor;
        y = tf.layers.globalAveragePooling2d({}).apply(y) as tf.SymbolicTensor;
        const output = tf.layers
          .dense({ units: 4, kernelInitializer: tf.initializers.glorotUniform(seed) })
          .apply(y) as tf.SymbolicTensor;
        const model = tf.model({ inputs: input, outputs: output });
        const x = tf.tensor4d(randomValues(3 * 8 * 8 * 3, 12), [3, 8, 8, 3]);
        const { grads: g } = tf.variableGrads(
          () => tf.sum(tf.square(model.apply(x, { training: true }) as tf.Tensor)) as tf.Scalar,
        );
        const out = model.trainableWeights.map((w) => g[w.name]!);
        model.dispose();
        return out;
      });
    const reference = await grads('cpu');
    const actual = await grads('wasm');
    expect(actual.length).toBe(reference.length);
    for (let i = 0; i < reference.length; i++) {
      const scale = Math.max(1, ...Array.from(reference[i]!, Math.abs));
      expect(maxAbsDiff(actual[i]!, reference[i]!) / scale).toBeLessThanOrEqual(1e-4);
    }
  });

  it('clone shares data on wasm: the copy outlives the original, and memory is freed with the last', async () => {
    await prepareWasmBackend();
    await tf.setBackend('wasm');
    const buffers = tf.memory().numDataBuffers;
    const original = tf.tensor2d([1, 2, 3, 4, 5, 6], [2, 3]);
    const copy = tf.clone(original);
    expect(tf.memory().numDataBuffers).toBe(buffers + 1); // two tensors, one buffer
    original.dispose();
    expect(Array.from(copy.dataSync())).toEqual([1, 2, 3, 4, 5, 6]);
    expect(copy.shape).toEqual([2, 3]);
    copy.dispose();
    expect(tf.memory().numDataBuffers).toBe(buffers);
    const words = tf.clone(tf.tensor1d(['a', 'b'], 'string'));
    expect(words.arraySync()).toEqual(['a', 'b']);
    words.dispose();
  });

  it('the ReLU gradient keeps NaN and infinities as tfjs does', async () => {
    const run = () => {
      const x = tf.tensor1d([Number.NaN, -1, 0, 2, 3, -4, Number.POSITIVE_INFINITY, 1, 0.5]);
      const dy = tf.tensor1d([1, Number.POSITIVE_INFINITY, Number.NaN, 2, -3, 1, 1, Number.NaN, 4]);
      return tf.grad((v: tf.Tensor) => tf.relu(v))(x, dy);
    };
    const [reference] = await runOn('cpu', run);
    const [actual] = await runOn('wasm', run);
    expect(Array.from(actual!)).toEqual(Array.from(reference!));
  });

  it('refcnn forward/backward with an optimiser step leaks no tensors', async () => {
    await prepareWasmBackend();
    await tf.setBackend('wasm');
    const model = createBackbone('refcnn', { inputShape: [12, 12, 1], dim: 8, seed: 1 });
    const optimizer = tf.train.adam(1e-3);
    const x = tf.tensor4d(randomValues(4 * 12 * 12, 9), [4, 12, 12, 1]);
    const step = () => {
      const loss = optimizer.minimize(
        () => tf.mean(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar,
        true,
      );
      loss?.dispose();
    };
    step(); // the optimiser allocates its moment slots on the first step
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++) step();
    expect(tf.memory().numTensors).toBe(before);
    tf.tidy(() => {
      model.predict(x);
    });
    expect(tf.memory().numTensors).toBe(before);
    optimizer.dispose();
    model.dispose();
    x.dispose();
  });
});
