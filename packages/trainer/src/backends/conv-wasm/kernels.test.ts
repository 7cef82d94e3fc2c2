import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, randomValues, runOn } from '../test-support';
import { registerTrainingKernels } from '../training-kernels';
import { prepareWasmBackend } from '../wasm';
import { compileConvKernels } from './compile';
import { type ConvCase, errorsAgainstCpu, relativeError } from './conv-check';
import {
  type ConvGeometry,
  convKernelsFor,
  convKernelVariant,
  convScratch,
  directSupports,
  geometryOf,
  winogradSupports,
  winogradTile,
} from './kernels';
import { CONV_KERNELS_FMA_WASM, CONV_KERNELS_WASM } from './module';

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
});

type Pad = ConvCase['pad'];
type Case = ConvCase;

function geometry(c: Case): ConvGeometry {
  return geometryOf(tf.backend_util.computeConv2DInfo(c.x, c.filter, 1, 1, c.pad))!;
}

/** Errors of y, dx and dfilter against cpu within Winograd's float32 precision. */
function expectSmall(errors: number[]): void {
  expect(errors).toHaveLength(3);
  for (const [i, error] of errors.entries()) {
    expect(error, ['y', 'dx', 'dfilter'][i]).toBeLessThanOrEqual(2e-5);
  }
}

async function expectMatchesCpu(c: Case): Promise<void> {
  expectSmall(await errorsAgainstCpu(c));
}

/** Runs the FMA fixture in a child Node with relaxed SIMD enabled; returns what it printed. */
function runFmaFixture(env: Record<string, string> = {}): {
  variant: string | null;
  bound: boolean;
  errors: number[][];
} {
  const out = execFileSync(
    process.execPath,
    [
      '--experimental-wasm-relaxed-simd',
      '--import',
      'tsx',
      fileURLToPath(new URL('./fma-check.fixture.ts', import.meta.url)),
    ],
    { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'ignore'] },
  );
  return JSON.parse(out.trim().split('\n').pop()!);
}

describe('the embedded module', () => {
  it("is the generator's output compiled by wabt (both builds)", async () => {
    const simd = await compileConvKernels();
    expect(Buffer.from(simd).toString('base64')).toBe(CONV_KERNELS_WASM);
    const fma = await compileConvKernels({ fma: true });
    expect(Buffer.from(fma).toString('base64')).toBe(CONV_KERNELS_FMA_WASM);
  });

  it('binds the build this runtime accepts: plain SIMD without relaxed SIMD', () => {
    const { WebAssembly: wasm } = globalThis as unknown as {
      WebAssembly: { validate(bytes: Uint8Array): boolean };
    };
    const relaxed = wasm.validate(Uint8Array.from(atob(CONV_KERNELS_FMA_WASM), (c) => c.charCodeAt(0)));
    expect(convKernelVariant()).toBe(relaxed && process.env.ANCHORAGE_WASM_FMA !== '0' ? 'fma' : 'simd');
  });

  it('with relaxed SIMD (a child Node with the flag) binds the FMA build, which matches cpu', () => {
    const fma = runFmaFixture();
    expect(fma.variant).toBe('fma');
    expect(fma.bound).toBe(true);
    expect(fma.errors).toHaveLength(3);
    for (const errors of fma.errors) expectSmall(errors);
    // ANCHORAGE_WASM_FMA=0 keeps the plain build even where relaxed SIMD exists
    expect(runFmaFixture({ ANCHORAGE_WASM_FMA: '0' }).variant).toBe('simd');
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

describe('FusedConv2D (conv + bias + activation, the inference path) against the cpu backend', () => {
  const fused = (): tf.Tensor[] => {
    const x = tf.tensor4d(randomValues(2 * 9 * 10 * 16, 11), [2, 9, 10, 16]);
    const narrow = tf.tensor4d(randomValues(2 * 9 * 10 * 1, 12), [2, 9, 10, 1]);
    const filter = tf.tensor4d(randomValues(3 * 3 * 16 * 8, 13), [3, 3, 16, 8]);
    const first = tf.tensor4d(randomValues(3 * 3 * 1 * 8, 14), [3, 3, 1, 8]);
    const bias = tf.tensor1d(randomValues(8, 15));
    return [
      tf.fused.conv2d({ x, filter, bias, pad: 'same', strides: 1, activation: 'relu' }),
      tf.fused.conv2d({ x, filter, bias, pad: 'valid', strides: 1, activation: 'linear' }),
      tf.fused.conv2d({ x, filter, pad: 'same', strides: 1, activation: 'relu' }),
      tf.fused.conv2d({ x: narrow, filter: first, bias, pad: 'same', strides: 1, activation: 'relu' }),
      // not taken: the stock kernel
      tf.fused.conv2d({
        x,
        filter,
        bias,
        pad: 'same',
        strides: 1,
        activation: 'leakyrelu',
        leakyreluAlpha: 0.2,
      }),
      tf.fused.conv2d({ x, filter, bias, pad: 'same', strides: 2, activation: 'relu' }),
    ];
  };

  it('equals cpu for linear and ReLU, with and without bias, and falls back for the rest', async () => {
    const reference = await runOn('cpu', fused);
    const actual = await runOn('wasm', fused);
    expect(actual).toHaveLength(6);
    for (let i = 0; i < reference.length; i++) {
      expect(relativeError(actual[i]!, reference[i]!), `output ${i}`).toBeLessThanOrEqual(2e-5);
    }
    // the ReLU outputs really are clamped (the check can fail)
    expect(Math.min(...actual[0]!)).toBe(0);
  });
});

describe('a scratch budget smaller than the batch', () => {
  it('processes the images a group at a time with the same results', async () => {
    const saved = convScratch.budgetBytes;
    // room for the padded copies of two images: groups of 2, 2 and 1
    convScratch.budgetBytes = 2 * 18 * 18 * 16 * 4;
    try {
      await expectMatchesCpu({ x: [5, 13, 14, 16], filter: [3, 3, 16, 8], pad: 'same' });
      convScratch.budgetBytes = 1; // one image a group
      await expectMatchesCpu({ x: [3, 9, 7, 8], filter: [3, 3, 8, 16], pad: 'valid' });
      await expectMatchesCpu({ x: [3, 10, 9, 2], filter: [3, 2, 2, 8], pad: 'same' });
    } finally {
      convScratch.budgetBytes = saved;
    }
  });
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
