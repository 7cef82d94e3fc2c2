import { describe, expect, it } from 'vitest';
import type { ModuleImporter } from './optional-import';
import { tryWebGpu } from './webgpu';

function fakeWebGpu(adapter: object | null, log: string[]): ModuleImporter {
  return async (specifier) => {
    log.push(
      `import ${specifier} (navigator.gpu ${(globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu ? 'set' : 'unset'})`,
    );
    if (specifier === 'webgpu') {
      return {
        globals: { GPUBufferUsage: { MAP_READ: 1 } },
        create: () => ({ requestAdapter: async () => adapter }),
      };
    }
    // a backend module that registers nothing
    return {};
  };
}

describe('tryWebGpu', () => {
  it('without an adapter says so and leaves no navigator behind', async () => {
    const log: string[] = [];
    const hadNavigator = 'navigator' in globalThis;
    const result = await tryWebGpu(fakeWebGpu(null, log), () => true);
    expect(result).toEqual({
      ok: false,
      reason: 'no WebGPU adapter: Dawn found no GPU through Vulkan (no GPU, no driver, or no libvulkan.so.1)',
    });
    expect(log).toEqual(['import webgpu (navigator.gpu unset)']);
    expect('navigator' in globalThis).toBe(hadNavigator);
  });

  it('sets navigator.gpu before importing the tfjs WebGPU backend, and reports a backend that did not register', async () => {
    const log: string[] = [];
    const result = await tryWebGpu(fakeWebGpu({ info: { vendor: 'test' } }, log), () => true);
    expect(log).toEqual([
      'import webgpu (navigator.gpu unset)',
      'import @tensorflow/tfjs-backend-webgpu (navigator.gpu set)',
    ]);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/did not register/);
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });
});
