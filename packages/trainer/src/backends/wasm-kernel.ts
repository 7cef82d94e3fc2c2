import * as tf from '@tensorflow/tfjs';

/**
 * Replaces a wasm kernel with `kernelFunc`, which gets the stock kernel (or undefined where wasm
 * has none) to fall back on for the calls it does not take. The stock setup and dispose hooks stay.
 */
export function replaceWasmKernel(
  kernelName: string,
  kernelFunc: (args: Parameters<tf.KernelFunc>[0], stock: tf.KernelConfig | undefined) => tf.TensorInfo,
): void {
  const stock = tf.getKernel(kernelName, 'wasm');
  if (stock !== undefined) tf.unregisterKernel(kernelName, 'wasm');
  tf.registerKernel({
    kernelName,
    backendName: 'wasm',
    setupFunc: stock?.setupFunc,
    disposeFunc: stock?.disposeFunc,
    kernelFunc: (args) => kernelFunc(args, stock),
  });
}
