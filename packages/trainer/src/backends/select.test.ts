import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { convKernelVariant } from './conv-wasm/kernels';
import type { ModuleImporter } from './optional-import';
import { selectBackend } from './select';
import { maxAbsDiff, randomValues, runOn } from './test-support';

function notFound(specifier: string): Error {
  return Object.assign(new Error(`Cannot find package '${specifier}'`), { code: 'ERR_MODULE_NOT_FOUND' });
}

/** Simulates a machine where none of the optional packages is installed. */
const nothingOptional: ModuleImporter = async (specifier) => {
  throw notFound(specifier);
};

describe('selectBackend', () => {
  it('auto falls back to wasm and says why each earlier backend was skipped', async () => {
    const lines: string[] = [];
    const selection = await selectBackend('auto', {
      log: (l) => lines.push(l),
      importModule: nothingOptional,
    });
    expect(selection.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(selection.reason).toContain('@tensorflow/tfjs-node-gpu is not installed');
    expect(selection.reason).toContain('@tensorflow/tfjs-node is not installed');
    expect(selection.reason).toContain('the optional "webgpu" package is not installed');
    expect(lines).toEqual([`backend: wasm (${selection.reason})`]);
  });

  it('with the real optional packages, auto picks the backend this machine is expected to have', async () => {
    // CI and developer machines have no GPU: wasm, and the line says why tensorflow and webgpu were
    // skipped. A machine with a GPU states what it expects (e.g. ANCHORAGE_EXPECT_BACKEND=webgpu).
    const expected = process.env.ANCHORAGE_EXPECT_BACKEND ?? 'wasm';
    const lines: string[] = [];
    const selection = await selectBackend('auto', { log: (l) => lines.push(l) });
    expect(lines).toEqual([`backend: ${selection.name} (${selection.reason})`]);
    expect(selection.name).toBe(expected);
    if (expected === 'wasm') {
      expect(selection.reason).toMatch(/tensorflow unavailable: .*webgpu unavailable: .*wasm works/);
    }
  });

  it('a tfjs-node that loads but registers no backend is reported, and auto moves on', async () => {
    const importModule: ModuleImporter = async (specifier) => {
      if (specifier === '@tensorflow/tfjs-node') return {};
      throw notFound(specifier);
    };
    const selection = await selectBackend('auto', { log: () => {}, importModule });
    expect(selection.name).toBe('wasm');
    expect(selection.reason).toContain('@tensorflow/tfjs-node loaded but registered no "tensorflow" backend');
  });

  it('a backend that starts but cannot compute fails its smoke step, and auto moves on', async () => {
    const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
    // a "tensorflow" backend with no kernels registered: it initialises, then every op throws
    const importModule: ModuleImporter = async (specifier) => {
      if (specifier === '@tensorflow/tfjs-node') {
        tf.registerBackend('tensorflow', () => new Cpu());
        return {};
      }
      throw notFound(specifier);
    };
    try {
      const selection = await selectBackend('auto', { log: () => {}, importModule });
      expect(selection.name).toBe('wasm');
      expect(selection.reason).toMatch(
        /tensorflow unavailable: tensorflow started but failed a first computation/,
      );
    } finally {
      tf.removeBackend('tensorflow');
    }
  });

  it('a named backend that cannot start throws UNSUPPORTED with the reason instead of falling back', async () => {
    await expect(
      selectBackend('tensorflow', { log: () => {}, importModule: nothingOptional }),
    ).rejects.toThrow(
      /backend "tensorflow" is not available: tensorflow unavailable: @tensorflow\/tfjs-node-gpu is not installed/,
    );
    await expect(
      selectBackend('webgpu', { log: () => {}, importModule: nothingOptional }),
    ).rejects.toMatchObject({
      code: 'UNSUPPORTED',
      argument: 'backend',
    });
  });

  it('cpu and wasm can be requested by name', async () => {
    expect((await selectBackend('cpu', { log: () => {} })).name).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const wasm = await selectBackend('wasm', { log: () => {} });
    expect(wasm).toEqual({
      name: 'wasm',
      reason: `requested: WebAssembly with SIMD, one thread, convolution kernels: ${convKernelVariant()}`,
    });
    expect(['simd', 'fma']).toContain(convKernelVariant());
  });

  it('leaves the corrected wasm kernels active (the package import must not re-register its own)', async () => {
    await selectBackend('wasm', { log: () => {} });
    // an input on which tfjs-backend-wasm 4.22's own MaxPoolGrad misroutes gradients
    const grad = () => {
      const x = tf.tensor4d(randomValues(2 * 6 * 6 * 3, 4), [2, 6, 6, 3]);
      return tf.grad((xx: tf.Tensor) => tf.sum(tf.maxPool(xx as tf.Tensor4D, 2, 2, 'valid')))(x);
    };
    const [reference] = await runOn('cpu', grad);
    const [actual] = await runOn('wasm', grad);
    expect(maxAbsDiff(actual!, reference!)).toBe(0);
  });

  it('rejects an unknown backend name', async () => {
    await expect(selectBackend('metal' as never)).rejects.toBeInstanceOf(AnchorageError);
  });
});
