import * as tf from '@tensorflow/tfjs';

/**
 * Conv2D gradients written with forward `conv2d` calls (and, for narrow inputs, one matMul).
 *
 * tfjs-backend-wasm has no `Conv2DBackpropFilter` kernel, so the stock Conv2D gradient fails there;
 * on the cpu backend the stock kernels exist but are ~20× slower than a forward convolution. Both
 * gradients are convolutions in disguise:
 * - filter: correlate the padded input (channels as batch) with dy (batch as channels), dilated by
 *   the stride — or, with ≤ 4 input channels, multiply the patch matrix by dy;
 * - input: correlate dy (zero-dilated by the stride, then padded) with the spatially flipped,
 *   in/out-transposed filter.
 */

type PadSpec =
  | 'valid'
  | 'same'
  | number
  | [[number, number], [number, number], [number, number], [number, number]];

interface ConvGeometry {
  readonly top: number;
  readonly left: number;
  readonly bottom: number;
  readonly right: number;
  readonly outHeight: number;
  readonly outWidth: number;
}

/** Output size and the padding actually applied, matching tfjs's own conv output-shape rules. */
export function convGeometry(
  inHeight: number,
  inWidth: number,
  filterHeight: number,
  filterWidth: number,
  strides: [number, number],
  pad: PadSpec,
): ConvGeometry {
  const [sh, sw] = strides;
  if (pad === 'same') {
    const outHeight = Math.ceil(inHeight / sh);
    const outWidth = Math.ceil(inWidth / sw);
    const padH = Math.max((outHeight - 1) * sh + filterHeight - inHeight, 0);
    const padW = Math.max((outWidth - 1) * sw + filterWidth - inWidth, 0);
    const top = Math.floor(padH / 2);
    const left = Math.floor(padW / 2);
    return { top, left, bottom: padH - top, right: padW - left, outHeight, outWidth };
  }
  let [top, bottom, left, right] = [0, 0, 0, 0];
  if (typeof pad === 'number') [top, bottom, left, right] = [pad, pad, pad, pad];
  else if (Array.isArray(pad)) [[top, bottom], [left, right]] = [pad[1], pad[2]];
  const outHeight = Math.floor((inHeight + top + bottom - filterHeight) / sh) + 1;
  const outWidth = Math.floor((inWidth + left + right - filterWidth) / sw) + 1;
  return { top, left, bottom, right, outHeight, outWidth };
}

/** Inserts (stride − 1) zeros between the rows and the columns of an NHWC tensor. */
function dilateSpatial(x: tf.Tensor4D, sh: number, sw: number): tf.Tensor4D {
  if (sh === 1 && sw === 1) return x;
  const [n, h, w, c] = x.shape;
  const spread = tf.pad(tf.reshape(x, [n, h, 1, w, 1, c]), [
    [0, 0],
    [0, 0],
    [0, sh - 1],
    [0, 0],
    [0, sw - 1],
    [0, 0],
  ]);
  const full = tf.reshape(spread, [n, h * sh, w * sw, c]) as tf.Tensor4D;
  return tf.slice(full, [0, 0, 0, 0], [n, (h - 1) * sh + 1, (w - 1) * sw + 1, c]);
}

/**
 * Below this many input channels the filter gradient is one matMul of the input patches with dy:
 * the forward-conv form then has a batch of 1–4 "images" with a kernel as large as dy, which
 * XNNPACK runs several times slower than the equivalent matMul (measured on wasm, 28×28×1 → 32).
 */
export const MATMUL_FILTER_GRADIENT_MAX_CHANNELS = 4;

/**
 * dL/dfilter of `conv2d(x, filter, strides, pad)` (NHWC, dilation 1): one forward conv2d with
 * the stride as dilation, or for inputs with few channels one matMul of the patches.
 */
export function conv2dFilterGradient(
  x: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
  pad: PadSpec,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [fh, fw, inChannels, outChannels] = filterShape;
    const g = convGeometry(x.shape[1], x.shape[2], fh, fw, strides, pad);
    const padded = tf.pad(x, [
      [0, 0],
      [g.top, g.bottom],
      [g.left, g.right],
      [0, 0],
    ]);
    if (inChannels <= MATMUL_FILTER_GRADIENT_MAX_CHANNELS) {
      return filterGradientByMatMul(padded, dy, filterShape, strides);
    }
    // input channels become the batch, the batch becomes the channels to be summed over
    const xT = tf.transpose(padded, [3, 1, 2, 0]);
    const dyT = tf.transpose(dy, [1, 2, 0, 3]);
    const corr = tf.conv2d(xT, dyT as tf.Tensor4D, 1, 'valid', 'NHWC', strides);
    // when (size − filter) is not a multiple of the stride the correlation overshoots the filter
    const cut = tf.slice(corr, [0, 0, 0, 0], [inChannels, fh, fw, outChannels]);
    return tf.transpose(cut, [1, 2, 0, 3]);
  });
}

/** Rows (kh, kw, c) × columns (n, oh, ow) of input patches, times dy as a K×outChannels matrix. */
function filterGradientByMatMul(
  padded: tf.Tensor4D,
  dy: tf.Tensor4D,
  filterShape: [number, number, number, number],
  strides: [number, number],
): tf.Tensor4D {
  const [fh, fw, inChannels, outChannels] = filterShape;
  const [n, paddedHeight, paddedWidth] = padded.shape;
  const [, outHeight, outWidth] = dy.shape;
  const [sh, sw] = strides;
  const channelsFirst =
    inChannels === 1
      ? tf.reshape(padded, [1, n, paddedHeight, paddedWidth])
      : tf.transpose(padded, [3, 0, 1, 2]);
  const rows: tf.Tensor[] = [];
  for (let kh = 0; kh < fh; kh++) {
    for (let kw = 0; kw < fw; kw++) {
      const window =
        sh === 1 && sw === 1
          ? tf.slice(channelsFirst, [0, 0, kh, kw], [inChannels, n, outHeight, outWidth])
          : tf.stridedSlice(
              channelsFirst,
              [0, 0, kh, kw],
              [inChannels, n, kh + (outHeight - 1) * sh + 1, kw + (outWidth - 1) * sw + 1],
              [1, 1, sh, sw],
            );
      rows.push(tf.reshape(window, [inChannels, n * outHeight * outWidth]));
    }
  }
  const patches = tf.concat(rows, 0) as tf.Tensor2D;
  const dyMatrix = tf.reshape(dy, [n * outHeight * outWidth, outChannels]) as tf.Tensor2D;
  return tf.reshape(tf.matMul(patches, dyMatrix), [fh, fw, inChannels, outChannels]);
}

/** dL/dx of `conv2d(x, filter, strides, pad)` (NHWC, dilation 1), via one forward conv2d. */
export function conv2dInputGradient(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: [number, number],
  pad: PadSpec,
): tf.Tensor4D {
  return tf.tidy(() => {
    const [, height, width] = xShape;
    const [fh, fw] = filter.shape;
    const g = convGeometry(height, width, fh, fw, strides, pad);
    const dilated = dilateSpatial(dy, strides[0], strides[1]);
    const padTop = fh - 1 - g.top;
    const padLeft = fw - 1 - g.left;
    const padBottom = height + fh - 1 - padTop - dilated.shape[1];
    const padRight = width + fw - 1 - padLeft - dilated.shape[2];
    // Negative padding (only with explicit pads larger than the filter) means cropping.
    const padded = tf.pad(dilated, [
      [0, 0],
      [Math.max(padTop, 0), Math.max(padBottom, 0)],
      [Math.max(padLeft, 0), Math.max(padRight, 0)],
      [0, 0],
    ]);
    const cropped =
      padTop < 0 || padLeft < 0 || padBottom < 0 || padRight < 0
        ? tf.slice(
            padded,
            [0, Math.max(-padTop, 0), Math.max(-padLeft, 0), 0],
            [
              padded.shape[0],
              padded.shape[1] - Math.max(-padTop, 0) - Math.max(-padBottom, 0),
              padded.shape[2] - Math.max(-padLeft, 0) - Math.max(-padRight, 0),
              padded.shape[3],
            ],
          )
        : padded;
    const flipped = tf.transpose(tf.reverse(filter, [0, 1]), [0, 1, 3, 2]) as tf.Tensor4D;
    return tf.conv2d(cropped, flipped, 1, 'valid');
  });
}

/**
 * Backends whose stock Conv2D backprop kernels are much slower than conv2d (cpu). wasm keeps
 * tfjs's gradient, which calls the `Conv2DBackpropInput` / `Conv2DBackpropFilter` kernels that
 * `registerTrainingKernels` installs there (the trainer's own SIMD kernels, falling back to these
 * forward-conv forms for the shapes they do not take).
 */
export const FORWARD_CONV_GRADIENT_BACKENDS: ReadonlySet<string> = new Set(['cpu']);

function isSupported(attrs: Record<string, unknown>): boolean {
  const dilations = attrs.dilations as number | [number, number] | undefined;
  const dilationOne =
    dilations === undefined ||
    dilations === 1 ||
    (Array.isArray(dilations) && dilations[0] === 1 && dilations[1] === 1);
  return (
    dilationOne &&
    (attrs.dataFormat === undefined || attrs.dataFormat === 'NHWC') &&
    attrs.dimRoundingMode == null &&
    (attrs.pad === 'same' ||
      attrs.pad === 'valid' ||
      typeof attrs.pad === 'number' ||
      Array.isArray(attrs.pad))
  );
}

let registered = false;

/**
 * Replaces tfjs's Conv2D gradient (a global registry) with the forward-conv version on the
 * backends in {@link FORWARD_CONV_GRADIENT_BACKENDS}; other backends, dilated or NCHW convolutions
 * keep tfjs's own kernels. Idempotent.
 */
export function registerConv2dGradient(): void {
  if (registered) return;
  registered = true;
  const stock = tf.getGradient(tf.Conv2D);
  if (stock === undefined)
    throw new Error('tfjs has no Conv2D gradient to wrap: import @tensorflow/tfjs, not tfjs-core');
  tf.registerGradient({
    kernelName: tf.Conv2D,
    inputsToSave: ['x', 'filter'],
    gradFunc: (dy, saved, attrs) => {
      const [x, filter] = saved as [tf.Tensor4D, tf.Tensor4D];
      const dy4 = dy as tf.Tensor4D;
      const strides = (
        typeof attrs.strides === 'number' ? [attrs.strides, attrs.strides] : attrs.strides
      ) as [number, number];
      const pad = attrs.pad as PadSpec;
      if (!FORWARD_CONV_GRADIENT_BACKENDS.has(tf.getBackend()) || !isSupported(attrs)) {
        return stock.gradFunc(dy, saved, attrs);
      }
      return {
        x: () => conv2dInputGradient(x.shape, dy4, filter, strides, pad),
        filter: () => conv2dFilterGradient(x, dy4, filter.shape, strides, pad),
      };
    },
  });
}
