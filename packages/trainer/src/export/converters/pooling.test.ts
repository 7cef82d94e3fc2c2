import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker } from '../onnx-test-support';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('pooling', () => {
  const cases = [
    { poolSize: 2, strides: undefined, padding: 'valid', size: [8, 8] },
    { poolSize: 2, strides: undefined, padding: 'valid', size: [7, 9] },
    { poolSize: 3, strides: 2, padding: 'same', size: [8, 8] },
    { poolSize: 3, strides: 2, padding: 'same', size: [7, 7] },
    { poolSize: [2, 3], strides: [1, 2], padding: 'same', size: [5, 6] },
    { poolSize: 3, strides: 1, padding: 'valid', size: [6, 5] },
  ] as const;
  for (const c of cases) {
    for (const kind of ['max', 'average'] as const) {
      it(`${kind} ${JSON.stringify(c)} equals tfjs`, async () => {
        const args = {
          inputShape: [c.size[0], c.size[1], 3],
          poolSize: c.poolSize as number | [number, number],
          padding: c.padding,
          ...(c.strides === undefined ? {} : { strides: c.strides as number | [number, number] }),
        };
        const layer = kind === 'max' ? tf.layers.maxPooling2d(args) : tf.layers.averagePooling2d(args);
        await check.expectMatch(tf.sequential({ layers: [layer] }));
      });
    }
  }

  it('global average and max pooling to [N, C]', async () => {
    for (const layer of [
      tf.layers.globalAveragePooling2d({ inputShape: [5, 6, 4] }),
      tf.layers.globalMaxPooling2d({ inputShape: [5, 6, 4] }),
    ]) {
      const { outputDims } = await check.expectMatch(tf.sequential({ layers: [layer] }));
      expect(outputDims[1]).toEqual([7, 4]);
    }
  });
});
