import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, randomizeWeights } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

import { tfjsToOnnx } from '../tfjs-to-onnx';
import { SUPPORTED_ACTIVATIONS } from './activations';

describe('activations', () => {
  for (const activation of SUPPORTED_ACTIVATIONS) {
    it(`'${activation}' inside Dense and as an Activation layer equals tfjs`, async () => {
      const inside = tf.sequential({ layers: [tf.layers.dense({ inputShape: [6], units: 5, activation })] });
      await check.expectMatch(randomizeWeights(inside, 1), { lo: -3, hi: 3 });
      const layer = tf.sequential({ layers: [tf.layers.activation({ inputShape: [4, 3], activation })] });
      await check.expectMatch(layer, { lo: -3, hi: 3 });
    });
  }

  it('ReLU (plain and with maxValue), LeakyReLU, ELU layers', async () => {
    for (const l of [
      tf.layers.reLU({ inputShape: [8] }),
      tf.layers.reLU({ inputShape: [8], maxValue: 0.5 }),
      tf.layers.leakyReLU({ inputShape: [8], alpha: 0.1 }),
      tf.layers.leakyReLU({ inputShape: [8] }),
      tf.layers.elu({ inputShape: [8] }),
    ]) {
      await check.expectMatch(tf.sequential({ layers: [l] }), { lo: -2, hi: 2 });
    }
  });

  it('Softmax layer on a sequence and on a channels-first convolution output', async () => {
    await check.expectMatch(
      tf.sequential({ layers: [tf.layers.softmax({ inputShape: [3, 5], axis: -1 })] }),
      { lo: -3, hi: 3 },
    );
    const conv = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [5, 5, 2], filters: 3, kernelSize: 3 }),
        tf.layers.softmax({ axis: -1 }),
      ],
    });
    await check.expectMatch(randomizeWeights(conv, 2), { lo: -3, hi: 3 });
  });

  it('an unknown activation string is refused naming the layer', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [2], units: 2, name: 'head' })] });
    (model.layers[0] as unknown as { getConfig: () => object }).getConfig = () => ({ activation: 'bogus' });
    expect(() => tfjsToOnnx(model)).toThrow(/layer "head" \(class Dense\).*activation "bogus"/);
  });
});
