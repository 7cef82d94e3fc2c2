import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights as randomize } from '../onnx-test-support';
import { spatialPads } from './spatial';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

describe('spatialPads (TensorFlow SAME)', () => {
  it('puts the odd extra row and column at the end, as TF does', () => {
    // 8 wide, kernel 3, stride 2: out 4, total (4−1)·2 + 3 − 8 = 1 → 0 before, 1 after
    expect(spatialPads('same', [8, 8], [3, 3], [2, 2], [1, 1])).toEqual([0, 0, 1, 1]);
    // 7 wide, kernel 3, stride 2: out 4, total 2 → 1, 1
    expect(spatialPads('same', [7, 7], [3, 3], [2, 2], [1, 1])).toEqual([1, 1, 1, 1]);
    // kernel 4, stride 1: total 3 → 1 before, 2 after
    expect(spatialPads('same', [5, 6], [4, 4], [1, 1], [1, 1])).toEqual([1, 1, 2, 2]);
    // kernel 3 dilated by 2 is 5 wide: total 4 → 2, 2
    expect(spatialPads('same', [9, 9], [3, 3], [1, 1], [2, 2])).toEqual([2, 2, 2, 2]);
    expect(spatialPads('valid', [9, 9], [3, 3], [1, 1], [1, 1])).toEqual([0, 0, 0, 0]);
  });
});

describe('Conv2D', () => {
  const cases = [
    { padding: 'same', strides: 1, kernelSize: 3, size: [7, 7] },
    { padding: 'same', strides: 2, kernelSize: 3, size: [8, 8] },
    { padding: 'same', strides: 2, kernelSize: 3, size: [7, 9] },
    { padding: 'same', strides: 1, kernelSize: 4, size: [6, 5] },
    { padding: 'same', strides: [2, 1], kernelSize: [2, 3], size: [9, 6] },
    { padding: 'valid', strides: 1, kernelSize: 3, size: [7, 7] },
    { padding: 'valid', strides: 2, kernelSize: 3, size: [8, 9] },
    { padding: 'same', strides: 1, kernelSize: 3, size: [9, 9], dilationRate: 2 },
    { padding: 'valid', strides: 1, kernelSize: 2, size: [9, 8], dilationRate: [2, 3] },
  ] as const;
  for (const c of cases) {
    for (const useBias of [true, false]) {
      it(`${JSON.stringify(c)} bias=${useBias} equals tfjs`, async () => {
        const model = tf.sequential({
          layers: [
            tf.layers.conv2d({
              inputShape: [c.size[0], c.size[1], 3],
              filters: 5,
              kernelSize: c.kernelSize as number | number[],
              strides: c.strides as number | number[],
              padding: c.padding,
              useBias,
              ...('dilationRate' in c ? { dilationRate: c.dilationRate as number | [number, number] } : {}),
            }),
          ],
        });
        const { outputDims } = await check.expectMatch(randomize(model, 3));
        const shape = model.outputs[0]!.shape;
        expect(outputDims[1]).toEqual([7, ...shape.slice(1)]);
      });
    }
  }

  it('applies an activation string inside the layer (softmax over channels in NCHW)', async () => {
    for (const activation of ['relu', 'gelu', 'softmax', 'tanh'] as const) {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, padding: 'same', activation }),
        ],
      });
      await check.expectMatch(randomize(model, 5));
    }
  });

  it('DepthwiseConv2D with a depth multiplier', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.depthwiseConv2d({
          inputShape: [7, 7, 3],
          kernelSize: 3,
          depthMultiplier: 2,
          padding: 'same',
          strides: 2,
        }),
      ],
    });
    await check.expectMatch(randomize(model, 7));
  });

  it('ZeroPadding2D with asymmetric padding', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.zeroPadding2d({
          inputShape: [4, 5, 2],
          padding: [
            [1, 2],
            [0, 3],
          ],
        }),
        tf.layers.conv2d({ filters: 3, kernelSize: 2 }),
      ],
    });
    await check.expectMatch(randomize(model, 9));
  });
});

describe('BatchNormalization', () => {
  it('folds into the preceding convolution (with and without bias): no node of its own', async () => {
    for (const useBias of [true, false]) {
      const model = tf.sequential({
        layers: [
          tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 6, kernelSize: 3, padding: 'same', useBias }),
          tf.layers.batchNormalization({ epsilon: 1e-3 }),
          tf.layers.activation({ activation: 'relu' }),
          tf.layers.conv2d({ filters: 4, kernelSize: 3, strides: 2, padding: 'same' }),
          tf.layers.batchNormalization({ center: false }),
        ],
      });
      const { bytes } = await check.expectMatch(randomize(model, 11));
      const ops = onnxOpTypes(bytes);
      expect(ops.filter((op) => op === 'Conv')).toHaveLength(2);
      expect(ops).not.toContain('Mul');
      expect(ops).not.toContain('Add');
      expect(ops).not.toContain('BatchNormalization');
    }
  });

  it('stays standalone after an activation, on raw NHWC images, on a Dense output and on a rank-3 value', async () => {
    const conv = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 4, kernelSize: 3, activation: 'relu' }),
        tf.layers.batchNormalization({ scale: false }),
      ],
    });
    const { bytes } = await check.expectMatch(randomize(conv, 13));
    expect(onnxOpTypes(bytes)).toContain('Mul');

    const dense = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [5], units: 4 }), tf.layers.batchNormalization()],
    });
    await check.expectMatch(randomize(dense, 14));

    const image = tf.sequential({ layers: [tf.layers.batchNormalization({ inputShape: [5, 4, 3] })] });
    await check.expectMatch(randomize(image, 16));

    const seq = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [3, 5], units: 4 }), tf.layers.batchNormalization({ axis: -1 })],
    });
    await check.expectMatch(randomize(seq, 15));
  });

  it('does not fold into a convolution whose output is also read elsewhere', async () => {
    const input = tf.input({ shape: [6, 6, 3] });
    const c = tf.layers
      .conv2d({ filters: 3, kernelSize: 3, padding: 'same' })
      .apply(input) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization().apply(c) as tf.SymbolicTensor;
    const sum = tf.layers.add().apply([bn, c]) as tf.SymbolicTensor;
    const model = tf.model({ inputs: input, outputs: sum });
    const { bytes } = await check.expectMatch(randomize(model, 17));
    expect(onnxOpTypes(bytes)).toContain('Mul');
  });
});
