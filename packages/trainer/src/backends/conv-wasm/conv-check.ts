import * as tf from '@tensorflow/tfjs';
import { maxAbsDiff, randomValues, runOn } from '../test-support';

/** A conv2d to check: input shape, filter shape, padding (stride 1). */
export interface ConvCase {
  x: [number, number, number, number];
  filter: [number, number, number, number];
  pad: 'same' | 'valid' | number;
}

/** y, dL/dx and dL/dfilter of sum(conv2d(x, filter) · w) for fixed random x, filter and w. */
export function convAndGradients(c: ConvCase): () => tf.Tensor[] {
  return () => {
    const x = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.x), 1), c.x);
    const filter = tf.tensor4d(randomValues(tf.util.sizeFromShape(c.filter), 2), c.filter);
    const y = tf.conv2d(x, filter, 1, c.pad);
    const w = tf.tensor(randomValues(y.size, 3), y.shape);
    const loss = (xx: tf.Tensor, ff: tf.Tensor) =>
      tf.sum(tf.mul(tf.conv2d(xx as tf.Tensor4D, ff as tf.Tensor4D, 1, c.pad), w));
    const [dx, df] = tf.grads(loss)([x, filter]);
    return [y, dx!, df!];
  };
}

/** Largest difference relative to the reference's largest magnitude (at least 1). */
export function relativeError(actual: Float32Array, reference: Float32Array): number {
  // a loop, not Math.max(...values): spreading a large array overflows the call stack
  let largest = 1;
  for (const value of reference) largest = Math.max(largest, Math.abs(value));
  return maxAbsDiff(actual, reference) / largest;
}

/** [y, dx, dfilter] errors of the wasm backend against the cpu backend, relative as above. */
export async function errorsAgainstCpu(c: ConvCase): Promise<number[]> {
  const reference = await runOn('cpu', convAndGradients(c));
  const actual = await runOn('wasm', convAndGradients(c));
  return reference.map((r, i) =>
    actual[i]!.length === r.length ? relativeError(actual[i]!, r) : Number.POSITIVE_INFINITY,
  );
}
