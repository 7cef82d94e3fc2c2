import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';

interface EngineInternals {
  registry: Record<string, object | undefined>;
  registryFactory: Record<string, { factory: () => object } | undefined>;
}

const quietFactories = new WeakSet<object>();

function silence(backend: object | null | undefined): void {
  if (backend != null && 'firstUse' in backend) (backend as { firstUse: boolean }).firstUse = false;
}

/**
 * tfjs's cpu backend greets Node users on its first write with a banner that recommends
 * tfjs-node. The trainer already logs which backend it chose and why (tfjs-node cannot even be
 * installed everywhere), so the banner is noise in every run that touches the cpu backend.
 * Silences `cpu` when given; otherwise the engine's cpu instance and every one it creates later
 * (the engine builds a new instance each time it initialises a backend).
 */
export function silenceCpuBanner(cpu?: object | null): void {
  if (cpu !== undefined) {
    silence(cpu);
    return;
  }
  const engine = tf.engine() as unknown as EngineInternals;
  silence(engine.registry.cpu);
  const entry = engine.registryFactory.cpu;
  if (entry === undefined || quietFactories.has(entry.factory)) return;
  const loud = entry.factory;
  entry.factory = () => {
    const backend = loud();
    silence(backend);
    return backend;
  };
  quietFactories.add(entry.factory);
}

const LIBRARY_DIRS = [
  '/usr/lib/x86_64-linux-gnu',
  '/usr/lib/aarch64-linux-gnu',
  '/usr/lib64',
  '/usr/lib',
  '/lib/x86_64-linux-gnu',
  '/lib/aarch64-linux-gnu',
  '/lib64',
  '/lib',
  '/usr/local/lib',
];

/**
 * Whether the Vulkan loader (`libvulkan.so.1`) can be found on Linux, checked before Dawn starts:
 * without it Dawn prints a multi-line warning with its own build paths and finds no adapter
 * anyway. Other platforms (Dawn uses Metal or D3D there) always answer true.
 */
export function vulkanLoaderPresent(env: NodeJS.ProcessEnv = process.env): boolean {
  if (process.platform !== 'linux') return true;
  const dirs = [...(env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), ...LIBRARY_DIRS];
  if (dirs.some((dir) => existsSync(join(dir, 'libvulkan.so.1')))) return true;
  try {
    return /\blibvulkan\.so\.1\b/.test(
      execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }),
    );
  } catch {
    return false;
  }
}

/**
 * Whether the machine shows a GPU device node (NVIDIA's, a DRM render node, or WSL's `/dev/dxg`).
 * `auto` starts Dawn only then: on a machine without one, Dawn could find only a software adapter,
 * which `auto` refuses anyway, after printing its driver warnings. Other platforms answer true.
 */
export function gpuDevicePresent(devDir = '/dev'): boolean {
  if (process.platform !== 'linux') return true;
  if (['nvidia0', 'nvidiactl', 'dxg'].some((name) => existsSync(join(devDir, name)))) return true;
  try {
    return readdirSync(join(devDir, 'dri')).some((name) => name.startsWith('renderD'));
  } catch {
    return false;
  }
}

/**
 * Whether the active tfjs backend can read a tensor back synchronously (`dataSync`). tfjs's
 * webgpu backend reads synchronously only through an `OffscreenCanvas`, which Node lacks; code on
 * the training path asks this before choosing a CPU-side computation that needs the values now.
 */
export function canReadSynchronously(backend: string = tf.getBackend()): boolean {
  return (
    backend !== 'webgpu' ||
    typeof (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas !== 'undefined'
  );
}
