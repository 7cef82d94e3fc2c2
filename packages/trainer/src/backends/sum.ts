import * as tf from '@tensorflow/tfjs';
import { convKernelsFor } from './conv-wasm/kernels';
import { replaceWasmKernel } from './wasm-kernel';

/** Rows per partial sum: the partials are added in float64, so long sums keep float32 accuracy per chunk. */
const CHUNK_ROWS = 1024;

/** The number of leading dimensions `axis` reduces, when it is exactly 0..k−1 (k < rank); else null. */
export function leadingAxes(axis: number | number[], rank: number): number | null {
  const axes = tf.util.parseAxisParam(
    axis,
    [...Array(rank)].map(() => 1),
  );
  const sorted = [...new Set(axes)].sort((a, b) => a - b);
  if (sorted.length === 0 || sorted.length >= rank) return null;
  return sorted.every((a, i) => a === i) ? sorted.length : null;
}

/**
 * `Sum` on wasm over leading axes (a bias gradient: dy summed over N, H, W) as a SIMD column sum
 * in 1024-row chunks added in float64; the stock kernel transposes first and is ~20× slower on
 * refcnn's first layer. Every other reduction goes to the stock kernel.
 */
export function registerWasmSum(): void {
  if (tf.getKernel(tf.Sum, 'wasm') === undefined) return;
  replaceWasmKernel(tf.Sum, (args, stock) => {
    const { inputs, attrs, backend } = args;
    const { x } = inputs as { x: tf.TensorInfo };
    const { axis, keepDims } = attrs as unknown as { axis: number | number[]; keepDims: boolean };
    const kernels = x.dtype === 'float32' ? convKernelsFor(backend) : null;
    const leading = kernels === null ? null : leadingAxes(axis, x.shape.length);
    const columns = leading === null ? 0 : tf.util.sizeFromShape(x.shape.slice(leading));
    if (kernels === null || leading === null || columns % 4 !== 0 || columns === 0) {
      return stock!.kernelFunc(args) as tf.TensorInfo;
    }
    const rows = tf.util.sizeFromShape(x.shape.slice(0, leading));
    const shape = keepDims ? x.shape.map((d, i) => (i < leading ? 1 : d)) : x.shape.slice(leading);
    const out = kernels.output(shape);
    const total = new Float64Array(columns);
    kernels.withScratch([columns * 4], (partial) => {
      const src = kernels.pointer(x);
      for (let r = 0; r < rows; r += CHUNK_ROWS) {
        kernels.k.col_sum(src + r * columns * 4, Math.min(CHUNK_ROWS, rows - r), columns, partial!);
        const heap = kernels.heap();
        const at = partial! >> 2;
        for (let c = 0; c < columns; c++) total[c]! += heap[at + c]!;
      }
    });
    kernels.heap().set(total, out.ptr >> 2);
    return out.info;
  });
}
