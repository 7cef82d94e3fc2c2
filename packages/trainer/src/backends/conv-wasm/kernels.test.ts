import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, randomValues, runOn } from '../test-support';
import { registerTrainingKernels } from '../training-kernels';
import { prepareWasmBackend } from '../wasm';
import { compileConvKernels } from './compile';
import {
  type ConvGeometry,
  convKernelsFor,
  directSupports,
  geometryOf,
  winogradSupports,
  winogradTile,
} from './kernels';
import { CONV_KERNELS_WASM } from './module';

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
});

type Pad = 'same' | 'valid' | number;
interface Case {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  pad: Pad;
}

function geometry(c: Case): ConvGeometry {
  return geometryOf(tf.backend_util.computeConv2DInfo(c.x, c.filter, 1, 1, c.pad))!;
}

/** y, dL/dx and dL/dfilter of sum(conv2d(x, filter) · w) for fixed random x, filter and w. */
function convAndGradients(c: Case): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.x), 1), c.x);
    const filter = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.filter), 2), c.filter);
    const y = tf.conv2d(x, filter, 1, c.pad);
    const w = tf.tensor(randomValues(y.size, 3), y.shape);
    const loss = (xx: tf.Tensor, ff: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, c.pad), w));
    const [dx, df] = tf.grads(loss)([x, filter]);
    return [y, dx!, df!];
  };
}

/** Largest difference relative to the reference's largest magnitude (at least 1). */
function relativeError(actual: Float32Array, reference: Float32Array): number {
  return maxAbsDiff(actual, reference) / Math.max(1, ...Array.from(reference, Math.abs));
}

async function expectMatchesCpu(c: Case): Promise<void> {
  const reference = await runOn('cpu', convAndGradients(c));
  const actual = await runOn('wasm', convAndGradients(c));
  for (let i = 0; i < 3; i++) {
    expect(actual[i]!.length).toBe(reference[i]!.length);
    expect(relativeError(actual[i]!, reference[i]!), ['y', 'dx', 'dfilter'][i]).toBeLessThanOrEqual(2e-5);
  }
}

describe('the embedded module', () => {
  it("is the generator's output compiled by wabt", async () => {
    const bytes = await compileConvKernels();
    expect(Buffer.from(bytes).toString('base64')).toBe(CONV_KERNELS_WASM);
  });

  it('binds to the wasm backend (SIMD, memory reachable)', async () => {
    await tf.setBackend('wasm');
    expect(convKernelsFor(tf.backend())).not.toBeNull();
  });

  it('does not bind to other backends', async () => {
    await tf.setBackend('cpu');
    expect(convKernelsFor(tf.backend())).toBeNull();
  });
});

describe('Winograd convolutions (3×3, stride 1) against the cpu backend', () => {
  const cases: Case[] = [
    // refcnn's conv2 and conv3 shapes (F(4×4, 3×3), partial edge tiles)
    { x: [2, 14, 14, 32], filter: [3, 3, 32, 64], pad: 'same' },
    { x: [3, 7, 7, 64], filter: [3, 3, 64, 128], pad: 'same' },
    { x: [2, 9, 11, 8], filter: [3, 3, 8, 16], pad: 'valid' },
    // outputs two rows high take F(2×2, 3×3)
    { x: [2, 2, 9, 16], filter: [3, 3, 16, 8], pad: 'same' },
    { x: [1, 4, 4, 8], filter: [3, 3, 8, 8], pad: 'valid' },
    // a "full" convolution (pad 2) and a 1×1 image
    { x: [2, 5, 6, 8], filter: [3, 3, 8, 8], pad: 2 },
    { x: [2, 1, 1, 8], filter: [3, 3, 8, 16], pad: 'same' },
  ];
  for (const c of cases) {
    const g = geometry(c);
    it(`${c.x} ⊛ ${c.filter} ${c.pad} (F(${winogradTile(g.outHeight, g.outWidth)}×…)): y, dx, dfilter`, async () => {
      expect(winogradSupports(g)).toBe(true);
      await expectMatchesCpu(c);
    });
  }

  it('matches on random geometries (property)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          n: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 13 }),
          w: fc.integer({ min: 1, max: 13 }),
          ci: fc.constantFrom(8, 16, 24),
          co: fc.constantFrom(8, 16, 32),
          pad: fc.constantFrom<Pad>('same', 'valid', 1, 2),
        }),
        async ({ n, h, w, ci, co, pad }) => {
          const c: Case = { x: [n, h, w, ci], filter: [3, 3, ci, co], pad };
          const info = tf.backend_util.computeConv2DInfo(c.x, c.filter, 1, 1, pad);
          fc.pre(info.outHeight >= 1 && info.outWidth >= 1);
          expect(winogradSupports(geometry(c))).toBe(true);
          await expectMatchesCpu(c);
        },
      ),
      { numRuns: 25, seed: 7 },
    );
  });
});

describe('direct convolutions (any filter, stride 1) against the cpu backend', () => {
  const cases: Case[] = [
    // refcnn's first layer
    { x: [2, 28, 28, 1], filter: [3, 3, 1, 32], pad: 'same' },
    { x: [2, 6, 7, 3], filter: [2, 3, 3, 16], pad: 'valid' },
    { x: [1, 5, 5, 2], filter: [5, 5, 2, 8], pad: 'same' },
    { x: [3, 4, 6, 5], filter: [1, 1, 5, 8], pad: 'valid' },
  ];
  for (const c of cases) {
    it(`${c.x} ⊛ ${c.filter} ${c.pad}: y, dx, dfilter`, async () => {
      const g = geometry(c);
      expect(winogradSupports(g)).toBe(false);
      expect(directSupports(g)).toBe(true);
      await expectMatchesCpu(c);
    });
  }
});

describe('shapes the kernels leave to the stock paths', () => {
  it('strided, dilated and narrow-output convolutions still match cpu', async () => {
    const run = () => {
      const x = tf.tensor4d(randomValues(2 * 9 * 9 * 8, 4), [2, 9, 9, 8]);
      const f = tf.tensor4d(randomValues(3 * 3 * 8 * 6, 5), [3, 3, 8, 6]);
      const strided = tf.conv2d(x, tf.slice(f, 0, [3, 3, 8, 4]) as tf.Tensor4D, 2, 'same');
      const dilated = tf.conv2d(x, f, 1, 'same', 'NHWC', 2);
      const narrow = tf.conv2d(x, f, 1, 'valid');
      return [strided, dilated, narrow];
    };
    const reference = await runOn('cpu', run);
    const actual = await runOn('wasm', run);
    for (let i = 0; i < reference.length; i++) {
      expect(relativeError(actual[i]!, reference[i]!)).toBeLessThanOrEqual(1e-5);
    }
  });
});

describe('Sum over leading axes (bias gradients)', () => {
  const sums = (): tf.Tensor[] => {
    const x = tf.tensor4d(randomValues(3 * 30 * 29 * 8, 6), [3, 30, 29, 8]);
    return [
      tf.sum(x, [0, 1, 2]),
      tf.sum(x, [2, 0, 1], true),
      tf.sum(x, 0),
      tf.sum(x, [0, 1]),
      // not leading: the stock kernel
      tf.sum(x, [1, 2]),
      tf.sum(tf.reshape(x, [3 * 30 * 29, 8]), 0),
    ];
  };

  it('equals the cpu backend, shapes included, over more rows than one chunk', async () => {
    const shapes = tf.tidy(() => sums().map((t) => t.shape));
    expect(shapes[1]).toEqual([1, 1, 1, 8]);
    expect(shapes[3]).toEqual([29, 8]);
    const reference = await runOn('cpu', sums);
    const actual = await runOn('wasm', sums);
    for (let i = 0; i < reference.length; i++) {
      expect(maxAbsDiff(actual[i]!, reference[i]!)).toBeLessThanOrEqual(1e-3);
    }
  });
});
