import { describe, expect, it } from 'vitest';
import type { ModuleImporter } from './optional-import';
import { isSoftwareAdapter, tryWebGpu } from './webgpu';

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
    const result = await tryWebGpu(fakeWebGpu(null, log), { hasVulkanLoader: () => true });
    expect(result).toEqual({
      ok: false,
      reason: 'no WebGPU adapter: Dawn found no GPU through Vulkan (no GPU, no driver, or no libvulkan.so.1)',
    });
    expect(log).toEqual(['import webgpu (navigator.gpu unset)']);
    expect('navigator' in globalThis).toBe(hadNavigator);
  });

  it('sets navigator.gpu before importing the tfjs WebGPU backend, and reports a backend that did not register', async () => {
    const log: string[] = [];
    const result = await tryWebGpu(fakeWebGpu({ info: { vendor: 'test' } }, log), {
      hasVulkanLoader: () => true,
    });
    expect(log).toEqual([
      'import webgpu (navigator.gpu unset)',
      'import @tensorflow/tfjs-backend-webgpu (navigator.gpu set)',
    ]);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.reason).toMatch(/did not register/);
    expect((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu).toBeUndefined();
  });

  it('auto refuses a software adapter before loading the tfjs backend; asked for by name it is taken', async () => {
    const lavapipe = {
      info: { vendor: 'mesa', architecture: 'software', description: 'llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)' },
    };
    const log: string[] = [];
    const refused = await tryWebGpu(fakeWebGpu(lavapipe, log), {
      allowSoftware: false,
      hasVulkanLoader: () => true,
      hasGpuDevice: () => true,
    });
    expect(refused).toEqual({
      ok: false,
      reason:
        'the only WebGPU adapter is software (mesa software llvmpipe: Mesa 25.0.7 (LLVM 15.0.6)), slower than wasm; --backend webgpu uses it',
    });
    expect(log).toEqual(['import webgpu (navigator.gpu unset)']);
    const named: string[] = [];
    await tryWebGpu(fakeWebGpu(lavapipe, named), { allowSoftware: true, hasVulkanLoader: () => true });
    expect(named).toContain('import @tensorflow/tfjs-backend-webgpu (navigator.gpu set)');
  });
});

describe('tryWebGpu for auto on a machine without a GPU device', () => {
  it('does not start Dawn at all', async () => {
    const log: string[] = [];
    const result = await tryWebGpu(fakeWebGpu({ info: { vendor: 'mesa' } }, log), {
      allowSoftware: false,
      hasVulkanLoader: () => true,
      hasGpuDevice: () => false,
    });
    expect(result).toEqual({
      ok: false,
      reason: 'no GPU device on this machine (/dev/nvidia*, /dev/dri/renderD*)',
    });
    expect(log).toEqual(['import webgpu (navigator.gpu unset)']);
  });
});

describe('isSoftwareAdapter', () => {
  it.each([
    [{ info: { vendor: 'mesa', architecture: 'software', description: 'llvmpipe' } }, true],
    [{ info: { vendor: 'google', description: 'SwiftShader Device (Subzero)' } }, true],
    [{ info: { vendor: 'nvidia', architecture: 'hopper', description: 'NVIDIA H100 80GB HBM3' } }, false],
    [{ info: { vendor: 'nvidia', description: 'NVIDIA H200' }, isFallbackAdapter: true }, true],
    [{ info: { vendor: 'amd', description: 'Radeon', isFallbackAdapter: true } }, true],
    [{}, false],
  ])('%j → %s', (adapter, software) => {
    expect(isSoftwareAdapter(adapter)).toBe(software);
  });
});
