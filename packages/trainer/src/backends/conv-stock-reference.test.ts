import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { relativeError } from './conv-wasm/conv-check';
import { silenceCpuBanner } from './quiet';
import { randomValues, runOn, stockConvGradients } from './test-support';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';

/**
 * The gradients training takes (tf.grads of conv2d after the trainer's registrations: its own
 * Conv2D gradient on cpu; its own wasm kernels or the forward-conv forms on wasm) against the cpu
 * backend's stock `Conv2DBackpropInput` / `Conv2DBackpropFilter` kernels, which the trainer never
 * replaces (it registers wasm kernels only) and which share no code with conv2d-gradient.ts or
 * conv-wasm/. The other conv tests compare wasm with cpu *through the registered gradient*, so a
 * defect in that gradient would sit on both sides.
 */

type Pad = 'same' | 'valid';
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: 1 | 2 | 3;
  pad: Pad;
}

const cases: Case[] = [
  // refcnn's three layers (its first at 28×28×1, the others smaller than at 14×14 to keep cpu's
  // stock kernels quick): the direct kernel, then Winograd, up to 128 channels
  { x: [2, 28, 28, 1], filter: [3, 3, 1, 32], strides: 1, pad: 'same' },
  { x: [2, 10, 10, 32], filter: [3, 3, 32, 64], strides: 1, pad: 'same' },
  { x: [2, 7, 7, 64], filter: [3, 3, 64, 128], strides: 1, pad: 'same' },
  // odd sizes, valid padding, wide channels; output channels not a multiple of 8 (fallback)
  { x: [2, 5, 6, 128], filter: [3, 3, 128, 136], strides: 1, pad: 'valid' },
  { x: [2, 9, 7, 48], filter: [3, 3, 48, 36], strides: 1, pad: 'same' },
  // 1×1 projections (residual shortcuts), stride 1 and 2
  { x: [2, 9, 9, 64], filter: [1, 1, 64, 128], strides: 1, pad: 'valid' },
  { x: [2, 9, 9, 64], filter: [1, 1, 64, 128], strides: 2, pad: 'valid' },
  { x: [3, 8, 8, 128], filter: [1, 1, 128, 128], strides: 2, pad: 'same' },
  // stride-2 3×3 downsampling, even and odd sizes, both paddings
  { x: [2, 10, 10, 64], filter: [3, 3, 64, 128], strides: 2, pad: 'same' },
  { x: [2, 7, 7, 128], filter: [3, 3, 128, 128], strides: 2, pad: 'same' },
  { x: [2, 15, 15, 32], filter: [3, 3, 32, 64], strides: 2, pad: 'valid' },
  // stride-2 stems with few input channels (the filter gradient's matMul path)
  { x: [2, 17, 17, 3], filter: [3, 3, 3, 32], strides: 2, pad: 'same' },
  { x: [3, 11, 12, 1], filter: [3, 3, 1, 16], strides: 2, pad: 'valid' },
  // the sub-pixel phases: the 7×7 stride-2 ImageNet stem, an even filter at stride 3 on odd and
  // even sizes, a 1×1 stride-2 projection on an odd-by-even input
  { x: [2, 20, 20, 3], filter: [7, 7, 3, 16], strides: 2, pad: 'same' },
  { x: [2, 11, 10, 8], filter: [4, 4, 8, 16], strides: 3, pad: 'same' },
  { x: [2, 9, 8, 16], filter: [1, 1, 16, 24], strides: 2, pad: 'same' },
];

/** Tolerance relative to the reference's largest magnitude: float32 sums of up to ~1,000 terms. */
const TOLERANCE = 1e-4;

function inputs(c: Case) {
  const outShape = tf.tidy(
    () => tf.conv2d(tf.zeros(c.x) as tf.Tensor4D, tf.zeros(c.filter) as tf.Tensor4D, c.strides, c.pad).shape,
  ) as [number, number, number, number];
  return {
    x: tf.tensor4d(randomValues(tf.util.sizeFromShape(c.x), 21), c.x),
    filter: tf.tensor4d(randomValues(tf.util.sizeFromShape(c.filter), 22), c.filter),
    dy: tf.tensor4d(randomValues(tf.util.sizeFromShape(outShape), 23), outShape),
  };
}

/** [dx, dfilter] from the cpu backend's stock backprop kernels, called directly. */
function stockGradients(c: Case): tf.Tensor[] {
  return stockConvGradients(c, inputs(c));
}

/**
 * [dx, dfilter] of sum(conv(x, filter) · dy) by autodiff, as training computes them: plain
 * conv2d (the registered Conv2D gradient) or the fused conv + bias that tfjs layers call
 * (FusedConv2D's gradient, which calls the backprop kernels).
 */
function trainerGradients(c: Case, fused: boolean): tf.Tensor[] {
  const { x, filter, dy } = inputs(c);
  const bias = tf.tensor1d(randomValues(c.filter[3], 24));
  const conv = (xx: tf.Tensor, ww: tf.Tensor) =>
    fused
      ? tf.fused.conv2d({
          x: xx as tf.Tensor4D,
          filter: ww as tf.Tensor4D,
          bias,
          strides: c.strides,
          pad: c.pad,
        })
      : tf.conv2d(xx as tf.Tensor4D, ww as tf.Tensor4D, c.strides, c.pad);
  return tf.grads((xx: tf.Tensor, ww: tf.Tensor) => tf.sum(tf.mul(conv(xx, ww), dy)))([x, filter]);
}

beforeAll(async () => {
  silenceCpuBanner();
  await prepareWasmBackend();
  registerTrainingKernels();
});

describe("conv2d gradients against tfjs-backend-cpu's stock backprop kernels", () => {
  for (const c of cases) {
    const label = `x ${c.x} ⊛ ${c.filter}, stride ${c.strides}, ${c.pad}`;
    it(`wasm and cpu, plain and fused: ${label}`, async () => {
      const [dxRef, dwRef] = await runOn('cpu', () => stockGradients(c));
      for (const backend of ['wasm', 'cpu'] as const) {
        for (const fused of [false, true]) {
          // the cpu backend's fused path calls the stock kernels itself: nothing to check there
          if (backend === 'cpu' && fused) continue;
          const [dx, dw] = await runOn(backend, () => trainerGradients(c, fused));
          const where = `${backend}${fused ? ' fused' : ''}`;
          expect(relativeError(dx!, dxRef!), `dx on ${where}`).toBeLessThanOrEqual(TOLERANCE);
          expect(relativeError(dw!, dwRef!), `dfilter on ${where}`).toBeLessThanOrEqual(TOLERANCE);
        }
      }
    });
  }
});
