import * as tf from '@tensorflow/tfjs';
import { registerWasmBatchMatMul } from './batch-matmul';
import {
  type ConvGeometry,
  type ConvKernels,
  type ConvPass,
  convKernelsFor,
  convPasses,
  geometryOf,
} from './conv-wasm/kernels';
import { conv2dFilterGradient, conv2dInputGradient, registerConv2dGradient } from './conv2d-gradient';
import { registerWasmMaxPoolGrad } from './max-pool-gradient';
import { registerReluGradient } from './relu-gradient';
import { registerWasmSum } from './sum';
import { registerWasmTile } from './tile';
import { replaceWasmKernel } from './wasm-kernel';

let registered = false;

interface ConvBackpropAttrs {
  strides: number | [number, number];
  pad: 'valid' | 'same' | number;
  dataFormat: 'NHWC' | 'NCHW';
  dimRoundingMode?: string;
}

/**
 * Runs `compute` on Tensor views of a kernel's inputs. A kernel may return a Tensor (tfjs-node's
 * do); the ops inside run on the same backend and are not taped because the engine is inside a
 * kernel. Each view takes a reference on its data, released when tidy disposes the view.
 */
function withTensors(
  backend: unknown,
  inputs: tf.TensorInfo[],
  compute: (...tensors: tf.Tensor4D[]) => tf.Tensor,
): tf.TensorInfo {
  const refs = backend as { incRef(dataId: tf.DataId): void };
  for (const input of inputs) refs.incRef(input.dataId);
  return tf.tidy(() => {
    const views = inputs.map((input) => tf.engine().makeTensorFromTensorInfo(input) as tf.Tensor4D);
    return compute(...views);
  }) as unknown as tf.TensorInfo;
}

function pairOf(strides: number | [number, number]): [number, number] {
  return typeof strides === 'number' ? [strides, strides] : strides;
}

/**
 * The trainer's own wasm kernels and the pass they run for this call (`pass` picks forward, input
 * gradient or filter gradient from {@link convPasses}), or null where they do not apply: no
 * kernels on this backend, NCHW, dimRoundingMode, non-float32, or a geometry they do not take.
 */
function ownPass(
  backend: unknown,
  xShape: number[],
  filterShape: number[],
  attrs: unknown,
  dtypes: tf.DataType[],
  pass: 'forward' | 'inputGradient' | 'filterGradient',
): { kernels: ConvKernels; run: ConvPass; g: ConvGeometry } | null {
  const a = attrs as ConvBackpropAttrs & { dilations?: number | [number, number] };
  if (a.dataFormat === 'NCHW' || a.dimRoundingMode != null) return null;
  if (dtypes.some((dtype) => dtype !== 'float32')) return null;
  const kernels = convKernelsFor(backend as object);
  if (kernels === null) return null;
  const info = tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    a.strides,
    a.dilations ?? 1,
    a.pad,
  );
  const g = geometryOf(info);
  const run = g === null ? null : convPasses(g)[pass];
  return g === null || run === null ? null : { kernels, run, g };
}

/**
 * Makes the wasm backend able to train the registered backbones, and fast at it. Where they apply
 * (float32 NHWC, stride 1, dilation 1, output channels a multiple of 8), `Conv2D`,
 * `Conv2DBackpropInput` and `Conv2DBackpropFilter` run the trainer's own SIMD kernels
 * (`conv-wasm/`: Winograd for 3×3 filters on ≥ 8 channels, a direct strided GEMM otherwise —
 * refcnn's first layer); the other shapes take:
 * - Conv2D: the stock XNNPACK kernel;
 * - `Conv2DBackpropFilter` (wasm has none; tfjs's gradient and its fused conv2d call it): the
 *   forward-convolution identity of `conv2d-gradient.ts`;
 * - `Conv2DBackpropInput`: the same, since the stock kernel is ~10× slower on refcnn's shapes
 *   (NCHW and dimRoundingMode calls keep the stock kernel).
 * Also: a correct `MaxPoolGrad` (the stock one misroutes some gradients; SIMD for 2×2 / stride 2
 * on channels in fours), a `Sum` over leading axes (bias gradients) as a SIMD column sum, an
 * `Identity` that shares data instead of copying it, and the ReLU gradient in one SIMD pass.
 * Mean, Relu, BiasAdd and MatMul gradients run on stock wasm kernels (checked by the tests
 * against the cpu backend). Idempotent; the wasm part waits until tfjs-backend-wasm is imported.
 */
export function registerTrainingKernels(): void {
  registerConv2dGradient();
  // Importing tfjs-backend-wasm registers its kernels, which would replace ours: wait for it.
  if (registered || tf.findBackendFactory('wasm') === null) return;
  registered = true;
  registerWasmMaxPoolGrad();
  registerWasmSum();
  registerWasmBatchMatMul();
  registerWasmTile();
  registerWasmConv2D();
  registerWasmIdentity();
  registerReluGradient();

  // tfjs-backend-wasm has no Conv2DBackpropFilter: nothing to fall back on
  replaceWasmKernel(tf.Conv2DBackpropFilter, ({ inputs, attrs, backend }) => {
    const { x, dy } = inputs as { x: tf.TensorInfo; dy: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } =
      attrs as unknown as ConvBackpropAttrs & {
        filterShape: [number, number, number, number];
      };
    if (dataFormat === 'NCHW' || dimRoundingMode != null) {
      throw new Error('Conv2DBackpropFilter on wasm supports NHWC without dimRoundingMode only');
    }
    const own = ownPass(backend, x.shape, filterShape, attrs, [x.dtype, dy.dtype], 'filterGradient');
    if (own !== null) {
      const out = own.kernels.output(filterShape);
      own.run(own.kernels, own.g, own.kernels.pointer(x), own.kernels.pointer(dy), out.ptr);
      return out.info;
    }
    return withTensors(backend, [x, dy], (xT, dyT) =>
      conv2dFilterGradient(xT!, dyT!, filterShape, pairOf(strides), pad),
    );
  });

  replaceWasmKernel(tf.Conv2DBackpropInput, (args, stockInput) => {
    const { inputs, attrs, backend } = args;
    const { dy, filter } = inputs as { dy: tf.TensorInfo; filter: tf.TensorInfo };
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } =
      attrs as unknown as ConvBackpropAttrs & {
        inputShape: [number, number, number, number];
      };
    if (dataFormat === 'NCHW' || dimRoundingMode != null) {
      if (stockInput === undefined) throw new Error('Conv2DBackpropInput on wasm supports NHWC only');
      return stockInput.kernelFunc(args) as tf.TensorInfo;
    }
    const own = ownPass(backend, inputShape, filter.shape, attrs, [dy.dtype, filter.dtype], 'inputGradient');
    if (own !== null) {
      const out = own.kernels.output(inputShape);
      own.run(own.kernels, own.g, own.kernels.pointer(dy), own.kernels.pointer(filter), out.ptr);
      return out.info;
    }
    return withTensors(backend, [dy, filter], (dyT, filterT) =>
      conv2dInputGradient(inputShape, dyT!, filterT!, pairOf(strides), pad),
    );
  });
}

/**
 * Conv2D on wasm through the trainer's kernels where they apply (stride 1, dilation 1, NHWC,
 * float32, output channels a multiple of 8: Winograd for 3×3 filters on ≥ 8 input channels, the
 * direct kernel otherwise); every other call goes to the stock XNNPACK kernel.
 */
function registerWasmConv2D(): void {
  /** Runs the trainer's forward kernel when it takes this call; the output, or null. */
  const ownConv = (backend: unknown, x: tf.TensorInfo, filter: tf.TensorInfo, attrs: unknown) => {
    const own = ownPass(backend, x.shape, filter.shape, attrs, [x.dtype, filter.dtype], 'forward');
    if (own === null) return null;
    const { kernels, run, g } = own;
    const out = kernels.output([g.batch, g.outHeight, g.outWidth, g.outChannels]);
    run(kernels, g, kernels.pointer(x), kernels.pointer(filter), out.ptr);
    return { kernels, out, g };
  };
  if (tf.getKernel(tf.Conv2D, 'wasm') !== undefined) {
    replaceWasmKernel(tf.Conv2D, (args, stock) => {
      const { x, filter } = args.inputs as { x: tf.TensorInfo; filter: tf.TensorInfo };
      return (
        ownConv(args.backend, x, filter, args.attrs)?.out.info ?? (stock!.kernelFunc(args) as tf.TensorInfo)
      );
    });
  }
  // FusedConv2D (conv + bias + activation: tfjs layers' inference path) with a linear or ReLU
  // activation and a per-channel bias: the same convolution, then one SIMD pass for both.
  if (tf.getKernel(tf.FusedConv2D, 'wasm') !== undefined) {
    replaceWasmKernel(tf.FusedConv2D, (args, stock) => {
      const { x, filter, bias, preluActivationWeights } = args.inputs as {
        x: tf.TensorInfo;
        filter: tf.TensorInfo;
        bias?: tf.TensorInfo;
        preluActivationWeights?: tf.TensorInfo;
      };
      const { activation } = args.attrs as { activation: string };
      const channels = filter.shape[3]!;
      const takes =
        (activation === 'linear' || activation === 'relu') &&
        preluActivationWeights == null &&
        (bias == null || (bias.dtype === 'float32' && tf.util.sizeFromShape(bias.shape) === channels));
      const own = takes ? ownConv(args.backend, x, filter, args.attrs) : null;
      if (own === null) return stock!.kernelFunc(args) as tf.TensorInfo;
      const { kernels, out, g } = own;
      kernels.k.bias_act(
        out.ptr,
        bias == null ? 0 : kernels.pointer(bias),
        g.batch * g.outHeight * g.outWidth,
        channels,
        bias == null ? 0 : 1,
        activation === 'relu' ? 1 : 0,
      );
      return out.info;
    });
  }
}

/**
 * Identity (tf.clone, and every tensor tfjs saves for a gradient) on wasm by sharing the data with
 * a reference count, as the cpu backend and wasm's own Reshape do: the stock kernel copies it,
 * which cost ~9 ms of a refcnn step. tfjs never writes into a tensor's data in place. Strings keep
 * the stock kernel.
 */
function registerWasmIdentity(): void {
  if (tf.getKernel(tf.Identity, 'wasm') === undefined) return;
  replaceWasmKernel(tf.Identity, (args, stock) => {
    const { x } = args.inputs as { x: tf.TensorInfo };
    if (x.dtype === 'string') return stock!.kernelFunc(args) as tf.TensorInfo;
    (args.backend as { incRef(dataId: tf.DataId): void }).incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  });
}
