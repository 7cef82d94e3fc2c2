import * as tf from '@tensorflow/tfjs';
import { convKernelsFor } from './conv-wasm/kernels';

/** The parts of the wasm backend a JavaScript kernel needs to read inputs and write its output. */
interface WasmHeapBackend {
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
  typedArrayFromHeap(info: tf.TensorInfo): Float32Array;
}

/**
 * dL/dx of a 2-D max pool (NHWC): each dy goes to the first maximum of its window in row-major
 * order (strictly greater wins), padding never wins — the cpu backend's rule. Accumulates, so
 * overlapping windows are right.
 */
export function maxPoolGradient(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels, outHeight, outWidth } = info;
  const {
    strideHeight,
    strideWidth,
    dilationHeight,
    dilationWidth,
    effectiveFilterHeight,
    effectiveFilterWidth,
  } = info;
  const { top, left } = info.padInfo;
  dx.fill(0);
  if (
    effectiveFilterHeight === 2 &&
    effectiveFilterWidth === 2 &&
    strideHeight === 2 &&
    strideWidth === 2 &&
    top === 0 &&
    left === 0 &&
    outHeight * 2 <= inHeight &&
    outWidth * 2 <= inWidth
  ) {
    maxPool2x2Gradient(x, dy, dx, info);
    return;
  }
  // channels innermost: every window position is one contiguous run of x
  const best = new Float32Array(inChannels);
  const at = new Int32Array(inChannels);
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * inWidth * inChannels;
    for (let r = 0; r < outHeight; r++) {
      const rStart = r * strideHeight - top;
      for (let c = 0; c < outWidth; c++) {
        const cStart = c * strideWidth - left;
        at.fill(-1);
        for (let wr = 0; wr < effectiveFilterHeight; wr += dilationHeight) {
          const xr = rStart + wr;
          if (xr < 0 || xr >= inHeight) continue;
          for (let wc = 0; wc < effectiveFilterWidth; wc += dilationWidth) {
            const xc = cStart + wc;
            if (xc < 0 || xc >= inWidth) continue;
            const base = xBatch + (xr * inWidth + xc) * inChannels;
            for (let d = 0; d < inChannels; d++) {
              const v = x[base + d]!;
              if (at[d]! < 0 || v > best[d]!) {
                best[d] = v;
                at[d] = base + d;
              }
            }
          }
        }
        const dyBase = ((b * outHeight + r) * outWidth + c) * inChannels;
        for (let d = 0; d < inChannels; d++) if (at[d]! >= 0) dx[at[d]!]! += dy[dyBase + d]!;
      }
    }
  }
}

/** The common 2×2 / stride 2 / no padding case with the four candidates held in locals. */
function maxPool2x2Gradient(
  x: Float32Array,
  dy: Float32Array,
  dx: Float32Array,
  info: tf.backend_util.Conv2DInfo,
): void {
  const { batchSize, inHeight, inWidth, inChannels: channels, outHeight, outWidth } = info;
  const rowStride = inWidth * channels;
  let g = 0;
  for (let b = 0; b < batchSize; b++) {
    const xBatch = b * inHeight * rowStride;
    for (let r = 0; r < outHeight; r++) {
      for (let c = 0; c < outWidth; c++) {
        const p00 = xBatch + 2 * r * rowStride + 2 * c * channels;
        const p01 = p00 + channels;
        const p10 = p00 + rowStride;
        const p11 = p10 + channels;
        for (let d = 0; d < channels; d++, g++) {
          // row-major order, strictly greater wins: the first maximum takes the gradient
          let at = p00 + d;
          let best = x[at]!;
          let v = x[p01 + d]!;
          if (v > best) {
            best = v;
            at = p01 + d;
          }
          v = x[p10 + d]!;
          if (v > best) {
            best = v;
            at = p10 + d;
          }
          if (x[p11 + d]! > best) at = p11 + d;
          dx[at]! += dy[g]!;
        }
      }
    }
  }
}

/**
 * Replaces tfjs-backend-wasm 4.22's `MaxPoolGrad` kernel, which routes some gradients to the wrong
 * element (found by comparing with the cpu backend on random inputs), with {@link maxPoolGradient}.
 */
export function registerWasmMaxPoolGrad(): void {
  if (tf.getKernel(tf.MaxPoolGrad, 'wasm') !== undefined) tf.unregisterKernel(tf.MaxPoolGrad, 'wasm');
  tf.registerKernel({
    kernelName: tf.MaxPoolGrad,
    backendName: 'wasm',
    kernelFunc: ({ inputs, attrs, backend }) => {
      const { dy, input } = inputs as { dy: tf.TensorInfo; input: tf.TensorInfo };
      const { filterSize, strides, pad, dimRoundingMode } = attrs as unknown as {
        filterSize: [number, number] | number;
        strides: [number, number] | number;
        pad: 'valid' | 'same' | number;
        dimRoundingMode?: 'floor' | 'round' | 'ceil';
      };
      const heap = backend as unknown as WasmHeapBackend;
      const info = tf.backend_util.computePool2DInfo(
        input.shape as [number, number, number, number],
        filterSize,
        strides,
        1,
        pad,
        dimRoundingMode,
      );
      const kernels = convKernelsFor(backend);
      const [batch, height, width, channels] = input.shape as [number, number, number, number];
      if (
        kernels !== null &&
        channels % 4 === 0 &&
        info.filterHeight === 2 &&
        info.filterWidth === 2 &&
        info.strideHeight === 2 &&
        info.strideWidth === 2 &&
        info.padInfo.top === 0 &&
        info.padInfo.left === 0 &&
        info.outHeight * 2 <= height &&
        info.outWidth * 2 <= width
      ) {
        // the SIMD kernel writes every element of the 2·outH × 2·outW region (first maximum wins)
        const out = kernels.output(input.shape);
        if (info.outHeight * 2 < height || info.outWidth * 2 < width) {
          kernels.k.zero(out.ptr, tf.util.sizeFromShape(input.shape) * 4);
        }
        kernels.k.maxpool2_grad(
          kernels.pointer(input),
          kernels.pointer(dy),
          out.ptr,
          batch,
          height,
          width,
          channels,
          info.outHeight,
          info.outWidth,
        );
        return out.info;
      }
      const dx = heap.makeOutput(input.shape, 'float32');
      maxPoolGradient(
        heap.typedArrayFromHeap(input),
        heap.typedArrayFromHeap(dy),
        heap.typedArrayFromHeap(dx),
        info,
      );
      return dx;
    },
  });
}
