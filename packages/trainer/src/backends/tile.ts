import * as tf from '@tensorflow/tfjs';
import { convKernelsFor } from './conv-wasm/kernels';
import { replaceWasmKernel } from './wasm-kernel';

/**
 * How many times `Tile` repeats the whole input back to back, or null when it does something else:
 * true when every axis up to the last repeated one has size 1 in the input ([1, 1, 1, C] tiled by
 * [N, H, W, 1] is C values N·H·W times over).
 */
export function wholeRepeats(shape: readonly number[], reps: readonly number[]): number | null {
  let last = -1;
  reps.forEach((r, i) => {
    if (r > 1) last = i;
  });
  if (last < 0) return 1;
  for (let i = 0; i <= last; i++) if (shape[i] !== 1) return null;
  return reps.slice(0, last + 1).reduce((a, b) => a * b, 1);
}

/**
 * `Tile` on wasm when it repeats the whole input (batch norm's gradient tiles its per-channel
 * mean, variance and scale to the activations' shape this way): the input is copied once and the
 * copy doubled with `copyWithin`, memcpy speed. The stock kernel computed every element's source
 * index and took ~0.3 µs per element: a third of a ResNet-18 step. Other tilings keep it.
 */
export function registerWasmTile(): void {
  if (tf.getKernel(tf.Tile, 'wasm') === undefined) return;
  replaceWasmKernel(tf.Tile, (args, stock) => {
    const { inputs, attrs, backend } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { reps } = attrs as unknown as { reps: number[] };
    const kernels = x.dtype === 'float32' ? convKernelsFor(backend) : null;
    const times = kernels === null ? null : wholeRepeats(x.shape, reps);
    if (kernels === null || times === null || times === 1) return stock!.kernelFunc(args) as tf.TensorInfo;
    const out = kernels.output(x.shape.map((d, i) => d * reps[i]!));
    const size = tf.util.sizeFromShape(x.shape);
    if (size > 0) {
      const heap = kernels.heap();
      const from = kernels.pointer(x) >> 2;
      const to = out.ptr >> 2;
      heap.copyWithin(to, from, from + size);
      const total = size * times;
      for (let filled = size; filled < total; filled *= 2) {
        heap.copyWithin(to + filled, to, to + Math.min(filled, total - filled));
      }
    }
    return out.info;
  });
}
