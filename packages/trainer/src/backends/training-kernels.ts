import * as tf from '@tensorflow/tfjs';
import { conv2dFilterGradient, registerConv2dGradient } from './conv2d-gradient';
import { registerWasmMaxPoolGrad } from './max-pool-gradient';

let registered = false;

/**
 * Makes the wasm backend able to train the registered backbones:
 * - the Conv2D gradient through forward convolutions (see `registerConv2dGradient`);
 * - a `Conv2DBackpropFilter` kernel for wasm built from the same forward-conv identity, because
 *   tfjs's fused conv2d (a convolution with no activation, or with a bias, while recording
 *   gradients) calls that kernel directly rather than the Conv2D gradient.
 * - a correct `MaxPoolGrad` kernel for wasm (the stock one misroutes some gradients).
 * Mean, Relu, BiasAdd and MatMul gradients run on stock wasm kernels (checked by the tests
 * against the cpu backend). Idempotent.
 */
export function registerTrainingKernels(): void {
  registerConv2dGradient();
  // Importing tfjs-backend-wasm registers its kernels, which would replace ours: wait for it.
  if (registered || tf.findBackendFactory('wasm') === null) return;
  registered = true;
  registerWasmMaxPoolGrad();
  if (tf.getKernel(tf.Conv2DBackpropFilter, 'wasm') === undefined) {
    tf.registerKernel({
      kernelName: tf.Conv2DBackpropFilter,
      backendName: 'wasm',
      // A kernel may return a Tensor (tfjs-node's do): the ops below run on the same backend and
      // are not taped because the engine is inside a kernel.
      kernelFunc: ({ inputs, attrs, backend }) => {
        const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
        const { strides, pad, dataFormat, dimRoundingMode, filterShape } = attrs as unknown as {
          strides: number | [number, number];
          pad: 'valid' | 'same' | number;
          dataFormat: 'NHWC' | 'NCHW';
          dimRoundingMode?: string;
          filterShape: [number, number, number, number];
        };
        if (dataFormat === 'NCHW' || dimRoundingMode != null) {
          throw new Error('Conv2DBackpropFilter on wasm supports NHWC without dimRoundingMode only');
        }
        // Wrapping TensorInfos as Tensors needs a reference each, released when tidy disposes them.
        const refs = backend as unknown as { incRef(dataId: tf.DataId): void };
        refs.incRef(x.dataId);
        refs.incRef(dy.dataId);
        return tf.tidy(() => {
          const engine = tf.engine();
          const xT = engine.makeTensorFromTensorInfo(x) as tf.Tensor4D;
          const dyT = engine.makeTensorFromTensorInfo(dy) as tf.Tensor4D;
          const stride2 = (typeof strides === 'number' ? [strides, strides] : strides) as [number, number];
          return conv2dFilterGradient(xT, dyT, filterShape, stride2, pad);
        }) as unknown as tf.TensorInfo;
      },
    });
  }
}
