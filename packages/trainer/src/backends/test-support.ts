import * as tf from '@tensorflow/tfjs';
import { Random } from '../random';
import { prepareWasmBackend } from './wasm';

/** Deterministic N(0, 1) values for test tensors. */
export function randomValues(size: number, seed: number): Float32Array {
  const rng = new Random(seed);
  return Float32Array.from({ length: size }, () => rng.normal());
}

/** Runs `fn` on `backend` and returns the values of the tensors it returns (all disposed). */
export async function runOn(
  backend: 'cpu' | 'wasm',
  fn: () => tf.Tensor | tf.Tensor[],
): Promise<Float32Array[]> {
  if (backend === 'wasm') await prepareWasmBackend();
  await tf.setBackend(backend);
  const out = tf.tidy(fn);
  const list = Array.isArray(out) ? out : [out];
  const values = list.map((t) => t.dataSync() as Float32Array);
  tf.dispose(list);
  return values;
}

/** Largest absolute difference between two arrays of the same length. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} ≠ ${b.length}`);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** The parts of a convolution the stock backprop kernels take. */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  strides: number | [number, number];
  pad: 'same' | 'valid' | number;
}

/** [dx, dfilter] from the current backend's stock Conv2D backprop kernels, called directly: the reference. */
export function stockConvGradients(
  c: ConvCase,
  { x, filter, dy }: { x: tf.Tensor; filter: tf.Tensor; dy: tf.Tensor },
): tf.Tensor[] {
  const attrs = { strides: c.strides, pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
  const dx = tf.engine().runKernel(tf.Conv2DBackpropInput, { dy, filter }, {
    ...attrs,
    inputShape: c.x,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  const dFilter = tf.engine().runKernel(tf.Conv2DBackpropFilter, { x, dy }, {
    ...attrs,
    filterShape: c.filter,
  } as unknown as tf.NamedAttrMap) as tf.Tensor;
  return [dx, dFilter];
}
