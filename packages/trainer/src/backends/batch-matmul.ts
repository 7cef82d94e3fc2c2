import * as tf from '@tensorflow/tfjs';
import { convKernelsFor } from './conv-wasm/kernels';
import { replaceWasmKernel } from './wasm-kernel';

interface BatchMatMulAttrs {
  transposeA: boolean;
  transposeB: boolean;
}

/** The permutation that swaps the last two axes of a rank-`rank` tensor. */
function swapLast(rank: number): number[] {
  const perm = [...Array(rank).keys()];
  [perm[rank - 2], perm[rank - 1]] = [perm[rank - 1]!, perm[rank - 2]!];
  return perm;
}

/**
 * `BatchMatMul` on wasm. The stock kernel is fast (XNNPACK) only for one unbatched product without
 * transposes; with a transposed operand (every dense weight gradient xᵀ·dy, half of attention's
 * gradients) or many small products (attention's per-head T×T·T×d) it ran at well under
 * 0.1 GFLOP/s. Here each product of the batch runs the trainer's SIMD GEMM (`conv-wasm`'s `gemm`,
 * 4×8 register tiles), which reads A through strides, so a transposed A costs nothing; a
 * transposed B is transposed once by the wasm Transpose kernel. Taken when the output's columns
 * are a multiple of 8, both are float32 and the batch dimensions are equal (or one side has
 * none); other calls keep the stock kernel.
 */
export function registerWasmBatchMatMul(): void {
  const transpose = tf.getKernel(tf.Transpose, 'wasm');
  if (tf.getKernel(tf.BatchMatMul, 'wasm') === undefined || transpose === undefined) return;
  replaceWasmKernel(tf.BatchMatMul, (args, stock) => {
    const { inputs, attrs, backend } = args;
    const { a, b } = inputs as { a: tf.TensorInfo; b: tf.TensorInfo };
    const { transposeA, transposeB } = attrs as unknown as BatchMatMulAttrs;
    const kernels = a.dtype === 'float32' && b.dtype === 'float32' ? convKernelsFor(backend) : null;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const [M, K] = transposeA ? [a.shape[ra - 1]!, a.shape[ra - 2]!] : [a.shape[ra - 2]!, a.shape[ra - 1]!];
    const N = transposeB ? b.shape[rb - 2]! : b.shape[rb - 1]!;
    const batchA = a.shape.slice(0, -2);
    const batchB = b.shape.slice(0, -2);
    const countA = tf.util.sizeFromShape(batchA);
    const countB = tf.util.sizeFromShape(batchB);
    const sameBatch = batchA.length === batchB.length && batchA.every((d, i) => d === batchB[i]);
    if (
      kernels === null ||
      N % 8 !== 0 ||
      N === 0 ||
      M === 0 ||
      K === 0 ||
      !(sameBatch || countA === 1 || countB === 1)
    ) {
      return stock!.kernelFunc(args) as tf.TensorInfo;
    }
    const batchShape = countA === 1 && !sameBatch ? batchB : batchA;
    const count = Math.max(countA, countB);
    const out = kernels.output([...batchShape, M, N]);
    let right = b;
    if (transposeB) {
      right = transpose.kernelFunc({
        inputs: { x: b },
        attrs: { perm: swapLast(rb) },
        backend,
      }) as tf.TensorInfo;
    }
    try {
      const pa = kernels.pointer(a);
      const pb = kernels.pointer(right);
      // A(i, k) at a + i·si + k·sk (bytes): row-major M×K, or K×M read transposed
      const si = transposeA ? 4 : K * 4;
      const sk = transposeA ? M * 4 : 4;
      for (let n = 0; n < count; n++) {
        kernels.k.gemm(
          pa + (countA === 1 ? 0 : n * M * K * 4),
          0,
          si,
          sk,
          pb + (countB === 1 ? 0 : n * K * N * 4),
          N * 4,
          out.ptr + n * M * N * 4,
          N * 4,
          M,
          N,
          K,
          1,
          0,
        );
      }
    } finally {
      if (right !== b) (backend as { disposeData(id: tf.DataId): void }).disposeData(right.dataId);
    }
    return out.info;
  });
}
