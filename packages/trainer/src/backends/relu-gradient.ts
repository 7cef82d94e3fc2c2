import * as tf from '@tensorflow/tfjs';
import { convKernelsFor } from './conv-wasm/kernels';

/** The wasm kernel of the ReLU gradient: dx = dy · step(x) in one SIMD pass. */
export const RELU_GRAD_KERNEL = 'AnchorageReluGrad';

let registered = false;

/**
 * The ReLU gradient on wasm as one SIMD pass (`relu_grad` of the trainer's kernels) instead of
 * tfjs's step, cast and multiply, three passes and two temporaries over every activation; the
 * result is the same, NaN and infinities included. Other backends, and wasm where the kernels do
 * not bind, keep tfjs's gradient. Idempotent.
 */
export function registerReluGradient(): void {
  if (registered) return;
  const stock = tf.getGradient(tf.Relu);
  if (stock === undefined)
    throw new Error('tfjs has no Relu gradient to wrap: import @tensorflow/tfjs, not tfjs-core');
  registered = true;
  tf.registerKernel({
    kernelName: RELU_GRAD_KERNEL,
    backendName: 'wasm',
    kernelFunc: ({ inputs, backend }) => {
      const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
      const kernels = convKernelsFor(backend);
      if (kernels === null) throw new Error(`${RELU_GRAD_KERNEL} needs the trainer's wasm kernels`);
      const out = kernels.output(x.shape);
      const size = tf.util.sizeFromShape(x.shape);
      const simd = size - (size % 4);
      const [xPtr, dyPtr] = [kernels.pointer(x), kernels.pointer(dy)];
      kernels.k.relu_grad(xPtr, dyPtr, out.ptr, simd);
      const heap = kernels.heap();
      for (let i = simd; i < size; i++) {
        const v = heap[(xPtr >> 2) + i]!;
        const step = Number.isNaN(v) ? v : v > 0 ? 1 : 0;
        heap[(out.ptr >> 2) + i] = heap[(dyPtr >> 2) + i]! * step;
      }
      return out.info;
    },
  });
  tf.registerGradient({
    kernelName: tf.Relu,
    inputsToSave: ['x'],
    gradFunc: (dy, saved, attrs) => {
      const [x] = saved as [tf.Tensor];
      const dyTensor = dy as tf.Tensor;
      if (
        tf.getBackend() !== 'wasm' ||
        x.dtype !== 'float32' ||
        dyTensor.dtype !== 'float32' ||
        convKernelsFor(tf.backend()) === null
      ) {
        return stock.gradFunc(dy, saved, attrs);
      }
      return { x: () => tf.engine().runKernel(RELU_GRAD_KERNEL, { x, dy: dyTensor }, {}) as tf.Tensor };
    },
  });
}
