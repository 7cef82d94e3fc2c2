import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('Dense', () => {
  for (const useBias of [true, false]) {
    it(`on a 2-D input (Gemm), bias=${useBias}`, async () => {
      const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [9], units: 4, useBias })] });
      const { bytes } = await check.expectMatch(randomizeWeights(model, 1));
      expect(onnxOpTypes(bytes)).toContain('Gemm');
    });
    it(`on a 3-D input (MatMul over the last axis), bias=${useBias}`, async () => {
      const model = tf.sequential({
        layers: [tf.layers.dense({ inputShape: [5, 6], units: 3, useBias, activation: 'relu' })],
      });
      const { bytes, outputDims } = await check.expectMatch(randomizeWeights(model, 2));
      expect(onnxOpTypes(bytes)).toContain('MatMul');
      expect(outputDims[1]).toEqual([7, 5, 3]);
    });
  }

  it('on a 4-D image value coming out of a convolution (contracts channels in NHWC order)', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3 }),
        tf.layers.dense({ units: 2 }),
      ],
    });
    await check.expectMatch(randomizeWeights(model, 3));
  });
});
