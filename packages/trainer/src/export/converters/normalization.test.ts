import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('LayerNormalization', () => {
  it('over the last axis of a sequence, with and without scale / center', async () => {
    for (const opts of [{}, { scale: false }, { center: false }, { epsilon: 1e-5 }]) {
      const model = tf.sequential({
        layers: [tf.layers.layerNormalization({ inputShape: [4, 6], ...opts })],
      });
      const { bytes } = await check.expectMatch(randomizeWeights(model, 1), { lo: -2, hi: 3 });
      expect(onnxOpTypes(bytes)).toContain('LayerNormalization');
    }
  });

  it('over the last two axes, and on a 2-D input', async () => {
    await check.expectMatch(
      randomizeWeights(
        tf.sequential({ layers: [tf.layers.layerNormalization({ inputShape: [3, 5], axis: [1, 2] })] }),
        2,
      ),
    );
    await check.expectMatch(
      randomizeWeights(tf.sequential({ layers: [tf.layers.layerNormalization({ inputShape: [7] })] }), 3),
    );
  });

  it('on an image value coming out of a convolution (normalises channels)', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [4, 4, 2], filters: 5, kernelSize: 3 }),
        tf.layers.layerNormalization(),
      ],
    });
    await check.expectMatch(randomizeWeights(model, 4));
  });
});
