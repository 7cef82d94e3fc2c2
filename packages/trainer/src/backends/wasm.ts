import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { registerTrainingKernels } from './training-kernels';

/** The folder holding tfjs-backend-wasm's `.wasm` binaries, resolved from the installed package. */
export function wasmBinaryDir(): string {
  const require = createRequire(import.meta.url);
  return `${join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')}/`;
}

let ready: Promise<void> | undefined;

/**
 * Registers the wasm backend (binaries from the installed package, since Node has no page URL to
 * fetch them from) plus the training kernels it lacks. Does not switch to it. In Node the backend
 * runs one thread with SIMD: parallelism across cores needs worker_threads.
 */
export function prepareWasmBackend(): Promise<void> {
  ready ??= (async () => {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(wasmBinaryDir());
    registerTrainingKernels();
  })();
  return ready;
}

/** Prepares and switches to the wasm backend; resolves to false when it failed to initialise. */
export async function useWasmBackend(): Promise<boolean> {
  await prepareWasmBackend();
  return tf.setBackend('wasm');
}
