import * as tf from '@tensorflow/tfjs';

/**
 * Conv2D gradients written with forward `conv2d` calls (and, for narrow inputs, one matMul).
 *
 * tfjs-backend-wasm has no `Conv2DBackpropFilter` kernel, so the stock Conv2D gradient fails there;
 * on the cpu backend the stock kernels exist but are ~20× slower than a forward convolution. Both
 * gradients are convolutions in disguise:
 * - filter: correlate the padded input (channels as batch) with dy (batch as channels), dilated by
 *   the stride — or, with ≤ 4 input channels, multiply the patch matrix by dy;
 * - input: correlate the padded dy with the spatially flipped, in/out-transposed filter; at
 *   strides above 1, one such stride-1 correlation per output phase (sub-pixel), with the filter
 *   taps of that phase, interleaved.
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

/**
 * One output phase r (0 ≤ r < stride) of a strided convolution's input gradient along one axis:
 * the input positions stride·p + r receive dy from the filter taps first, first + stride, … (taps
 * of that phase, `taps` of them), dy's row p + offset − t meeting tap first + t·stride. `size`:
 * positions p of this phase.
 */
function inputPhase(r: number, stride: number, filter: number, before: number, inSize: number) {
  const first = (r + before) % stride;
  const taps = first < filter ? Math.ceil((filter - first) / stride) : 0;
  const offset = (r + before - first) / stride;
  const size = r < inSize ? Math.ceil((inSize - r) / stride) : 0;
  return { first, taps, offset, size };
}

/**
 * Pads (or, where negative, crops) the rows and columns of an NHWC tensor: the window of dy a
 * stride-1 correlation reads.
 */
function padOrCrop(x: tf.Tensor4D, top: number, bottom: number, left: number, right: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  const cropTop = Math.max(-top, 0);
  const cropLeft = Math.max(-left, 0);
  const keptH = h - cropTop - Math.max(-bottom, 0);
  const keptW = w - cropLeft - Math.max(-right, 0);
  const cropped =
    cropTop > 0 || cropLeft > 0 || keptH < h || keptW < w
      ? tf.slice(x, [0, cropTop, cropLeft, 0], [n, keptH, keptW, c])
      : x;
  if (top <= 0 && bottom <= 0 && left <= 0 && right <= 0) return cropped;
  return tf.pad(cropped, [
    [0, 0],
    [Math.max(top, 0), Math.max(bottom, 0)],
    [Math.max(left, 0), Math.max(right, 0)],
    [0, 0],
  ]);
}

/**
 * dL/dx of a strided conv2d by its sub-pixel decomposition: the input positions of each phase
 * (row mod stride, column mod stride) are one stride-1 correlation of dy with the filter taps of
 * that phase (flipped, in/out-transposed), and the phases interleave into dx. Only the
 * multiplications a direct transposed convolution makes, where correlating the zero-dilated dy
 * with the whole filter makes stride² as many, three quarters of them with zeros at stride 2.
 */
function subPixelInputGradient(
  xShape: [number, number, number, number],
  dy: tf.Tensor4D,
  filter: tf.Tensor4D,
  strides: [number, number],
  g: ConvGeometry,
): tf.Tensor4D {
  const [n, height, width, inChannels] = xShape;
  const [fh, fw] = filter.shape;
  const [sh, sw] = strides;
  const rowsOut = Math.ceil(height / sh);
  const colsOut = Math.ceil(width / sw);
  // A phase's kernel is built from the filter's values (read synchronously: this runs on cpu and
  // wasm, whose slicing kernels are slow on filters: small, of rank 6 or strided).
  const [, , filterIn, filterOut] = filter.shape;
  const values = filter.dataSync() as Float32Array;
  const bands: tf.Tensor[] = [];
  for (let ry = 0; ry < sh; ry++) {
    const py = inputPhase(ry, sh, fh, g.top, height);
    const phases: tf.Tensor4D[] = [];
    for (let rx = 0; rx < sw; rx++) {
      const px = inputPhase(rx, sw, fw, g.left, width);
      let phase: tf.Tensor4D;
      if (py.taps === 0 || px.taps === 0 || py.size === 0 || px.size === 0) {
        phase = tf.zeros([n, py.size, px.size, inChannels]);
      } else {
        // taps first + t·stride, reversed (a correlation), in/out-transposed: [taps, taps, out, in]
        const kernelValues = new Float32Array(py.taps * px.taps * filterOut * filterIn);
        for (let ty = 0; ty < py.taps; ty++) {
          const ky = py.first + (py.taps - 1 - ty) * sh;
          for (let tx = 0; tx < px.taps; tx++) {
            const kx = px.first + (px.taps - 1 - tx) * sw;
            const src = (ky * fw + kx) * filterIn * filterOut;
            const dst = (ty * px.taps + tx) * filterOut * filterIn;
            for (let i = 0; i < filterIn; i++) {
              for (let o = 0; o < filterOut; o++)
                kernelValues[dst + o * filterIn + i] = values[src + i * filterOut + o]!;
            }
          }
        }
        const kernel = tf.tensor4d(kernelValues, [py.taps, px.taps, filterOut, filterIn]);
        // dy rows offset − taps + 1 … offset + size − 1 (zeros outside dy)
        const window = padOrCrop(
          dy,
          py.taps - 1 - py.offset,
          py.offset + py.size - g.outHeight,
          px.taps - 1 - px.offset,
          px.offset + px.size - g.outWidth,
        );
        phase = tf.conv2d(window, kernel, 1, 'valid');
      }
      // every phase as large as phase 0, so that they interleave by a reshape
      phases.push(padOrCrop(phase, 0, rowsOut - py.size, 0, colsOut - px.size));
    }
    // [sw, n·rows·cols, c] → [n·rows·cols, sw, c]: the columns interleaved
    const columns = tf.reshape(tf.concat(phases, 0), [sw, n * rowsOut * colsOut, inChannels]);
    bands.push(tf.reshape(tf.transpose(columns, [1, 0, 2]), [n * rowsOut, colsOut * sw * inChannels]));
  }
  // [sh, n·rows, width·c] → [n·rows, sh, width·c]: the rows interleaved. (Rank-3 transposes of
  // whole-tensor concatenations: wasm's Pack along inner axes and its rank-6 Transpose copy in
  // small pieces in JS.)
  const rows = tf.reshape(tf.concat(bands, 0), [sh, n * rowsOut, colsOut * sw * inChannels]);
  const full = tf.reshape(tf.transpose(rows, [1, 0, 2]), [n, rowsOut * sh, colsOut * sw, inChannels]);
  return full.shape[1] === height && full.shape[2] === width
    ? (full as tf.Tensor4D)
    : (tf.slice(full, [0, 0, 0, 0], [n, height, width, inChannels]) as tf.Tensor4D);
}

/**
 * dL/dx of `conv2d(x, filter, strides, pad)` (NHWC, dilation 1): at stride 1 one forward conv2d of
 * the padded dy with the flipped filter, at larger strides its sub-pixel decomposition (one
 * stride-1 conv2d per phase).
 */
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
    if (strides[0] > 1 || strides[1] > 1) return subPixelInputGradient(xShape, dy, filter, strides, g);
    const padTop = fh - 1 - g.top;
    const padLeft = fw - 1 - g.left;
    const padBottom = height + fh - 1 - padTop - dy.shape[1];
    const padRight = width + fw - 1 - padLeft - dy.shape[2];
    // Negative padding (only with explicit pads larger than the filter) means cropping.
    const padded = tf.pad(dy, [
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
