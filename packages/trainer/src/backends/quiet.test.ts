import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { gpuDevicePresent, silenceCpuBanner, vulkanLoaderPresent } from './quiet';
import { tryWebGpu } from './webgpu';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-vulkan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('vulkanLoaderPresent', () => {
  it.runIf(process.platform === 'linux')('finds libvulkan.so.1 in a folder of LD_LIBRARY_PATH', () => {
    writeFileSync(join(dir, 'libvulkan.so.1'), '');
    expect(vulkanLoaderPresent({ LD_LIBRARY_PATH: `/nonexistent:${dir}` })).toBe(true);
  });
});

describe('gpuDevicePresent', () => {
  it.runIf(process.platform === 'linux')('looks for NVIDIA nodes and DRM render nodes', () => {
    const dev = mkdtempSync(join(tmpdir(), 'anchorage-dev-'));
    try {
      expect(gpuDevicePresent(dev)).toBe(false);
      mkdirSync(join(dev, 'dri'));
      writeFileSync(join(dev, 'dri', 'card0'), '');
      expect(gpuDevicePresent(dev)).toBe(false);
      writeFileSync(join(dev, 'dri', 'renderD128'), '');
      expect(gpuDevicePresent(dev)).toBe(true);
    } finally {
      rmSync(dev, { recursive: true, force: true });
    }
  });
});

describe('tryWebGpu without a Vulkan loader', () => {
  it('does not start Dawn (whose warning would name its own build paths) and says why', async () => {
    const create = vi.fn();
    const result = await tryWebGpu(async () => ({ create, globals: {} }), { hasVulkanLoader: () => false });
    expect(result).toEqual({
      ok: false,
      reason: 'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn can find no GPU',
    });
    expect(create).not.toHaveBeenCalled();
  });
});

describe('silenceCpuBanner', () => {
  it("keeps tfjs's cpu backend from printing its tfjs-node banner on first use", () => {
    const Cpu = tf.findBackend('cpu')!.constructor as new () => tf.KernelBackend;
    const warn = vi.spyOn(console, 'warn').mockImplementation(() => {});
    try {
      const loud = new Cpu();
      loud.write(new Float32Array([1]), [1], 'float32');
      expect(warn.mock.calls.flat().join(' ')).toMatch(/install our node backend/);
      warn.mockClear();
      const quiet = new Cpu();
      silenceCpuBanner(quiet);
      quiet.write(new Float32Array([1]), [1], 'float32');
      expect(warn).not.toHaveBeenCalled();
    } finally {
      warn.mockRestore();
    }
  });
});
