import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { conv2dFilterGradient, conv2dInputGradient, registerConv2dGradient } from './conv2d-gradient';
import { maxAbsDiff, randomValues, runOn, stockConvGradients } from './test-support';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';

type Pad = 'same' | 'valid' | number;
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: [number, number];
  pad: Pad;
}

// Inputs with ≤ 4 channels take the matMul path for the filter gradient, wider ones the conv path.
const cases: Case[] = [
  { x: [2, 7, 7, 6], filter: [3, 3, 6, 4], strides: [1, 1], pad: 'same' },
  { x: [2, 7, 6, 5], filter: [3, 3, 5, 4], strides: [1, 1], pad: 'valid' },
  { x: [2, 9, 8, 6], filter: [3, 2, 6, 3], strides: [2, 3], pad: 'valid' },
  { x: [2, 8, 8, 8], filter: [3, 3, 8, 5], strides: [2, 2], pad: 'same' },
  { x: [2, 6, 7, 5], filter: [3, 3, 5, 2], strides: [2, 2], pad: 1 },
  { x: [2, 7, 7, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'same' },
  { x: [2, 7, 6, 3], filter: [3, 3, 3, 4], strides: [1, 1], pad: 'valid' },
  { x: [2, 8, 8, 2], filter: [3, 3, 2, 5], strides: [2, 2], pad: 'same' },
  { x: [1, 9, 8, 2], filter: [3, 2, 2, 3], strides: [2, 3], pad: 'valid' },
  { x: [3, 10, 10, 1], filter: [4, 4, 1, 2], strides: [2, 2], pad: 'same' },
  { x: [2, 6, 6, 2], filter: [1, 1, 2, 3], strides: [2, 2], pad: 'valid' },
  // tfjs sizes numeric padding with the row stride only, so keep the strides equal there
  { x: [2, 6, 7, 2], filter: [3, 3, 2, 2], strides: [2, 2], pad: 1 },
  { x: [2, 5, 5, 2], filter: [3, 3, 2, 2], strides: [1, 1], pad: 2 },
];

function tensors(c: Case) {
  const y = tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad);
  const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.x), 1), c.x);
  const filter = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.filter), 2), c.filter);
  const dy = tf.tensor4d(
    randomValues(tf.util.sizeFromShape(y.shape), 3),
    y.shape as [number, number, number, number],
  );
  return { x, filter, dy };
}

/** tfjs's own backprop kernels on the cpu backend: the reference. */
function stock(c: Case): tf.Tensor[] {
  return stockConvGradients(c, tensors(c));
}

function patched(c: Case): tf.Tensor[] {
  const { x, filter, dy } = tensors(c);
  return [
    conv2dInputGradient(c.x, dy, filter, c.strides, c.pad),
    conv2dFilterGradient(x, dy, c.filter, c.strides, c.pad),
  ];
}

/** The registered Conv2D gradient, reached through autodiff of sum(conv2d(x, w) · dy). */
function autodiff(c: Case, fused: boolean): tf.Tensor[] {
  const { x, filter, dy } = tensors(c);
  const bias = tf.zeros([c.filter[3]]);
  const loss = (xx: tf.Tensor, ww: tf.Tensor) =>
    tf.sum(
      tf.mul(
        fused
          ? tf.fused.conv2d({
              x: xx as tf.Tensor4D,
              filter: ww as tf.Tensor4D,
              bias,
              strides: c.strides,
              pad: c.pad,
            })
          : tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad),
        dy,
      ),
    );
  return tf.grads(loss)([x, filter]);
}

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
  registerConv2dGradient();
});

describe('Conv2D gradients through forward convolutions', () => {
  for (const c of cases) {
    const label = `x ${c.x} filter ${c.filter} strides ${c.strides} pad ${c.pad}`;
    it(`match the cpu backend's stock kernels on cpu and wasm: ${label}`, async () => {
      const [dxRef, dwRef] = await runOn('cpu', () => stock(c));
      for (const backend of ['cpu', 'wasm'] as const) {
        const [dx, dw] = await runOn(backend, () => patched(c));
        expect(maxAbsDiff(dx!, dxRef!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(dw!, dwRef!)).toBeLessThanOrEqual(1e-4);
      }
      // the registered gradient and the fused-conv path (Conv2DBackpropFilter kernel on wasm)
      for (const fused of [false, true]) {
        const [dx, dw] = await runOn('wasm', () => autodiff(c, fused));
        expect(maxAbsDiff(dx!, dxRef!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDiff(dw!, dwRef!)).toBeLessThanOrEqual(1e-4);
      }
    });
  }

  it("conv2dTranspose (the Conv2DBackpropInput kernel) on wasm equals cpu's", async () => {
    for (const c of cases) {
      const transpose = () => {
        const { filter, dy } = tensors(c);
        return tf.conv2dTranspose(dy, filter, c.x, c.strides, c.pad as 'same' | 'valid' | number);
      };
      const [reference] = await runOn('cpu', transpose);
      const [actual] = await runOn('wasm', transpose);
      expect(maxAbsDiff(actual!, reference!)).toBeLessThanOrEqual(1e-4);
    }
  });

  it('leaves no tensors behind on wasm', async () => {
    await runOn('wasm', () => autodiff(cases[2]!, true));
    const before = tf.memory().numTensors;
    for (let i = 0; i < 3; i++)
      await runOn('wasm', () => [...autodiff(cases[2]!, true), ...autodiff(cases[0]!, false)]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
