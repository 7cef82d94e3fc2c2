import * as tf from '@tensorflow/tfjs';
import { importOptional, isModuleNotFound, type ModuleImporter } from './optional-import';
import { vulkanLoaderPresent } from './quiet';

/** The result of trying to bring up a backend: ready, or why not. */
export type BackendAttempt =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly reason: string };

interface WebGpuModule {
  create(flags: string[]): {
    requestAdapter(): Promise<{
      info?: { vendor?: string; architecture?: string; description?: string };
    } | null>;
  };
  globals: Record<string, unknown>;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/**
 * Brings up tfjs's WebGPU backend on Dawn (the optional `webgpu` npm package). Order matters:
 * the WebGPU globals and `navigator.gpu` must exist before `@tensorflow/tfjs-backend-webgpu` is
 * imported, because that module registers its backend only if it sees `navigator.gpu`. Without a
 * GPU (no Vulkan adapter) it restores `navigator` and reports why; it never throws.
 */
export async function tryWebGpu(
  importModule: ModuleImporter = importOptional,
  hasVulkanLoader: () => boolean = vulkanLoaderPresent,
): Promise<BackendAttempt> {
  if (tf.findBackend('webgpu') !== null && (await tf.setBackend('webgpu'))) {
    return { ok: true, detail: 'WebGPU backend already initialised' };
  }
  let webgpu: WebGpuModule;
  try {
    webgpu = (await importModule('webgpu')) as WebGpuModule;
  } catch (error) {
    return {
      ok: false,
      reason: isModuleNotFound(error)
        ? 'the optional "webgpu" package is not installed'
        : `the "webgpu" package failed to load (${message(error)})`,
    };
  }
  if (!hasVulkanLoader()) {
    return {
      ok: false,
      reason: 'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn can find no GPU',
    };
  }
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const result = await startWebGpu(webgpu, importModule);
  // on failure leave no half-made navigator behind: other code tests `navigator.gpu` to pick a path
  if (!result.ok) {
    if (previous === undefined) delete scope.navigator;
    else Object.defineProperty(globalThis, 'navigator', previous);
  }
  return result;
}

type Gpu = ReturnType<WebGpuModule['create']>;

async function startWebGpu(webgpu: WebGpuModule, importModule: ModuleImporter): Promise<BackendAttempt> {
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  let adapter: Awaited<ReturnType<Gpu['requestAdapter']>>;
  try {
    Object.assign(globalThis, webgpu.globals);
    const gpu = (scope.navigator?.gpu as Gpu | undefined) ?? webgpu.create([]);
    if (!scope.navigator?.gpu) {
      Object.defineProperty(globalThis, 'navigator', {
        value: { ...(scope.navigator ?? {}), gpu },
        configurable: true,
        writable: true,
      });
    }
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return { ok: false, reason: `Dawn failed to start (${message(error)})` };
  }
  if (adapter === null) {
    return {
      ok: false,
      reason: 'no WebGPU adapter: Dawn found no GPU through Vulkan (no GPU, no driver, or no libvulkan.so.1)',
    };
  }
  try {
    await importModule('@tensorflow/tfjs-backend-webgpu');
    if (tf.findBackendFactory('webgpu') === null) {
      return {
        ok: false,
        reason:
          '@tensorflow/tfjs-backend-webgpu was imported before navigator.gpu existed, so it did not register',
      };
    }
    if (!(await tf.setBackend('webgpu')))
      return { ok: false, reason: 'the WebGPU backend failed to initialise' };
  } catch (error) {
    return { ok: false, reason: `the WebGPU backend failed to load (${message(error)})` };
  }
  const info = adapter.info;
  const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ');
  return { ok: true, detail: `WebGPU on ${name || 'an unnamed adapter'}` };
}
