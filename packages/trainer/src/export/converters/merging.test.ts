import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('merge layers', () => {
  it('Add as a residual connection around two convolutions stays channels-first', async () => {
    const input = tf.input({ shape: [6, 6, 4] });
    const stem = tf.layers
      .conv2d({ filters: 4, kernelSize: 3, padding: 'same', activation: 'relu' })
      .apply(input);
    const a = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(stem);
    const b = tf.layers.batchNormalization().apply(a);
    const sum = tf.layers.add().apply([b, stem] as tf.SymbolicTensor[]);
    const out = tf.layers.activation({ activation: 'relu' }).apply(sum);
    const gap = tf.layers.globalAveragePooling2d({}).apply(out) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: gap });
    const { bytes } = await check.expectMatch(randomizeWeights(model, 1));
    expect(onnxOpTypes(bytes).filter((op) => op === 'Transpose')).toHaveLength(1);
  });

  it('Multiply, Average, Maximum, Minimum, Concatenate (mixed layouts)', async () => {
    const input = tf.input({ shape: [5, 5, 3] });
    const conv = tf.layers
      .conv2d({ filters: 3, kernelSize: 3, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    for (const merge of [
      tf.layers.multiply(),
      tf.layers.average(),
      tf.layers.maximum(),
      tf.layers.minimum(),
      tf.layers.concatenate({ axis: -1 }),
      tf.layers.concatenate({ axis: 1 }),
    ]) {
      const out = merge.apply([conv, input]) as tf.SymbolicTensor;
      const model = tf.model({ inputs: input, outputs: out });
      await check.expectMatch(randomizeWeights(model, 2));
    }
  });

  it('Concatenate of two channels-first values along channels', async () => {
    const input = tf.input({ shape: [5, 5, 3] });
    const a = tf.layers.conv2d({ filters: 2, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
    const b = tf.layers.conv2d({ filters: 4, kernelSize: 3 }).apply(input) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: input,
      outputs: tf.layers.concatenate().apply([a, b]) as tf.SymbolicTensor,
    });
    await check.expectMatch(randomizeWeights(model, 3));
  });

  it('a resnet18 basic block with a strided 1×1 projection shortcut (every BN folded)', async () => {
    const input = tf.input({ shape: [8, 8, 4] });
    const convBn = (x: tf.SymbolicTensor, filters: number, kernelSize: number, strides: number) =>
      tf.layers
        .batchNormalization()
        .apply(
          tf.layers.conv2d({ filters, kernelSize, strides, padding: 'same', useBias: false }).apply(x),
        ) as tf.SymbolicTensor;
    const a = tf.layers.reLU().apply(convBn(input, 8, 3, 2)) as tf.SymbolicTensor;
    const b = convBn(a, 8, 3, 1);
    const shortcut = convBn(input, 8, 1, 2);
    const out = tf.layers.reLU().apply(tf.layers.add().apply([b, shortcut])) as tf.SymbolicTensor;
    const model = tf.model({
      inputs: input,
      outputs: tf.layers.globalAveragePooling2d({}).apply(out) as tf.SymbolicTensor,
    });
    const { bytes } = await check.expectMatch(randomizeWeights(model, 4));
    const ops = onnxOpTypes(bytes);
    expect(ops.filter((op) => op === 'Conv')).toHaveLength(3);
    expect(ops).not.toContain('Mul');
    expect(ops.filter((op) => op === 'Transpose')).toHaveLength(1);
  });
});
