import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('Flatten / Reshape / Permute after channels-first convolutions', () => {
  it('Flatten keeps tfjs (NHWC) element order, so the Dense after it sees the same features', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 5, 2], filters: 3, kernelSize: 3, padding: 'same' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 4 }),
      ],
    });
    const { bytes } = await check.expectMatch(randomizeWeights(model, 1));
    // one transpose in (NHWC → NCHW) and one back before Flatten
    expect(onnxOpTypes(bytes).filter((op) => op === 'Transpose')).toHaveLength(2);
  });

  it('Flatten of the raw input needs no transpose', async () => {
    const model = tf.sequential({
      layers: [tf.layers.flatten({ inputShape: [3, 4, 2] }), tf.layers.dense({ units: 2 })],
    });
    const { bytes } = await check.expectMatch(randomizeWeights(model, 2));
    expect(onnxOpTypes(bytes)).not.toContain('Transpose');
  });

  it('Reshape and Permute', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 3], filters: 6, kernelSize: 1 }),
        tf.layers.reshape({ targetShape: [16, 6] }),
        tf.layers.permute({ dims: [2, 1] }),
        tf.layers.dense({ units: 3 }),
      ],
    });
    const { outputDims } = await check.expectMatch(randomizeWeights(model, 3));
    expect(outputDims[0]).toEqual([1, 6, 3]);
    const flat = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [12], units: 12 }), tf.layers.reshape({ targetShape: [3, -1] })],
    });
    const reshaped = await check.expectMatch(randomizeWeights(flat, 5));
    expect(reshaped.outputDims[1]).toEqual([7, 3, 4]);
  });

  it('Dropout and GaussianNoise are the identity at inference', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.dense({ inputShape: [4], units: 4 }),
        tf.layers.dropout({ rate: 0.5 }),
        tf.layers.gaussianNoise({ stddev: 1 }),
      ],
    });
    await check.expectMatch(randomizeWeights(model, 4));
  });
});
