import * as tf from '@tensorflow/tfjs';
import { importOptional, isModuleNotFound, type ModuleImporter } from './optional-import';
import { gpuDevicePresent, vulkanLoaderPresent } from './quiet';

/** The result of trying to bring up a backend: ready, or why not. */
export type BackendAttempt =
  | { readonly ok: true; readonly detail: string }
  | { readonly ok: false; readonly reason: string };

/** What Dawn says about an adapter (the parts the choice looks at). */
export interface AdapterDescription {
  info?: {
    vendor?: string;
    architecture?: string;
    description?: string;
    device?: string;
    isFallbackAdapter?: boolean;
  };
  isFallbackAdapter?: boolean;
}

interface WebGpuModule {
  create(flags: string[]): {
    requestAdapter(): Promise<AdapterDescription | null>;
  };
  globals: Record<string, unknown>;
}

/** Options of {@link tryWebGpu}. */
export interface TryWebGpuOptions {
  /**
   * Accept a software adapter (Mesa's lavapipe, SwiftShader): true when webgpu is asked for by
   * name, false for `auto`, where such an adapter would be far slower than wasm.
   */
  allowSoftware?: boolean;
  /** Whether the Vulkan loader exists (tests replace it). */
  hasVulkanLoader?: () => boolean;
  /** Whether a GPU device node exists; consulted only when software adapters are refused. */
  hasGpuDevice?: () => boolean;
}

/** A software rasteriser posing as a GPU: Dawn's fallback flag, or a CPU driver by name. */
export function isSoftwareAdapter(adapter: AdapterDescription): boolean {
  const info = adapter.info ?? {};
  if (adapter.isFallbackAdapter === true || info.isFallbackAdapter === true) return true;
  const text = [info.vendor, info.architecture, info.description, info.device].filter(Boolean).join(' ');
  return /llvmpipe|lavapipe|swiftshader|\bsoftware\b/i.test(text);
}

function adapterName(adapter: AdapterDescription): string {
  const info = adapter.info;
  return (
    [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'an unnamed adapter'
  );
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
  {
    allowSoftware = true,
    hasVulkanLoader = vulkanLoaderPresent,
    hasGpuDevice = gpuDevicePresent,
  }: TryWebGpuOptions = {},
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
  if (!allowSoftware && !hasGpuDevice()) {
    return { ok: false, reason: 'no GPU device on this machine (/dev/nvidia*, /dev/dri/renderD*)' };
  }
  if (!hasVulkanLoader()) {
    return {
      ok: false,
      reason: 'no Vulkan loader (libvulkan.so.1) on this machine, so Dawn can find no GPU',
    };
  }
  const scope = globalThis as { navigator?: { gpu?: unknown } };
  const previous = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
  const result = await startWebGpu(webgpu, importModule, allowSoftware);
  // on failure leave no half-made navigator behind: other code tests `navigator.gpu` to pick a path
  if (!result.ok) {
    if (previous === undefined) delete scope.navigator;
    else Object.defineProperty(globalThis, 'navigator', previous);
  }
  return result;
}

type Gpu = ReturnType<WebGpuModule['create']>;

async function startWebGpu(
  webgpu: WebGpuModule,
  importModule: ModuleImporter,
  allowSoftware: boolean,
): Promise<BackendAttempt> {
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
  if (!allowSoftware && isSoftwareAdapter(adapter)) {
    return {
      ok: false,
      reason: `the only WebGPU adapter is software (${adapterName(adapter)}), slower than wasm; --backend webgpu uses it`,
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
  return { ok: true, detail: `WebGPU on ${adapterName(adapter)}` };
}
