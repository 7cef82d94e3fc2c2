import * as tf from '@tensorflow/tfjs';

/**
 * Added under the square root of every norm and distance the losses take, so that their gradients
 * stay finite at 0. The exported ONNX graph and evaluation normalise with the same formula.
 */
export const NORM_EPSILON = 1e-12;

/** Rows divided by their norm: e / sqrt(‖e‖² + ε). Differentiable everywhere. */
export function l2NormalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.tidy(() => tf.div(x, tf.sqrt(tf.add(tf.sum(tf.square(x), 1, true), NORM_EPSILON))));
}

/** {@link l2NormalizeRows} on a row-major N×dim array, in place; returns it. */
export function l2NormalizeRowsInPlace(values: Float32Array, dim: number): Float32Array {
  for (let offset = 0; offset < values.length; offset += dim) {
    let sum = 0;
    for (let k = 0; k < dim; k++) sum += values[offset + k]! * values[offset + k]!;
    const scale = 1 / Math.sqrt(sum + NORM_EPSILON);
    for (let k = 0; k < dim; k++) values[offset + k]! *= scale;
  }
  return values;
}

/**
 * Euclidean distances between all rows, B×B: sqrt(‖x_i − x_j‖² + ε). Built from differences rather
 * than the Gram matrix, whose rounding can make a squared distance negative.
 */
export function pairwiseDistances(x: tf.Tensor2D): { squared: tf.Tensor2D; distances: tf.Tensor2D } {
  return tf.tidy(() => {
    const squared = tf.sum(tf.square(tf.sub(tf.expandDims(x, 1), tf.expandDims(x, 0))), 2) as tf.Tensor2D;
    return { squared, distances: tf.sqrt(tf.add(squared, NORM_EPSILON)) };
  });
}

let variableCount = 0;

/** A variable name unique among live variables: tfjs refuses two variables of one name. */
export function uniqueVariableName(loss: string, variable: string): string {
  variableCount += 1;
  return `${loss}/${variable}_${variableCount}`;
}
