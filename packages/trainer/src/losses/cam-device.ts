import type { CamLossOptions } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';

/** The CAM terms as scalars on the backend's device (unweighted, as loss-core reports them). */
export interface CamDeviceValue {
  /** attractor + λ_R·repeller + λ_N·minNorm */
  loss: tf.Scalar;
  attractor: tf.Scalar;
  repeller: tf.Scalar;
  minNorm: tf.Scalar;
}

/**
 * Above this many floats the C×C×d tensor of anchor differences is not built and the pairwise
 * distances come from the Gram matrix instead (64 MiB; C = 200 anchors at d = 128 is 5 M).
 */
const DIFFERENCES_MAX_FLOATS = 1 << 24;

/** Pairwise Euclidean distances of the anchors, C×C, exact zero for coinciding anchors where it can. */
function pairwiseDistances(anchors: tf.Tensor2D, differencesMaxFloats: number): tf.Tensor2D {
  const [classes, dim] = anchors.shape;
  if (classes * classes * dim <= differencesMaxFloats) {
    // differences first: no cancellation, so coinciding anchors are exactly 0 apart (as in loss-core)
    const diff = tf.sub(tf.expandDims(anchors, 1), tf.expandDims(anchors, 0));
    return tf.sqrt(tf.sum(tf.square(diff), 2)) as tf.Tensor2D;
  }
  const norms2 = tf.sum(tf.square(anchors), 1);
  const gram = tf.matMul(anchors, anchors, false, true);
  const d2 = tf.relu(tf.sub(tf.add(tf.expandDims(norms2, 1), tf.expandDims(norms2, 0)), tf.mul(2, gram)));
  return tf.sqrt(d2) as tf.Tensor2D;
}

/** C×d one-hot rows: row i has its 1 at column i mod d. */
function axisOneHot(classes: number, dim: number): tf.Tensor2D {
  return tf
    .oneHot(
      tf.tensor1d(
        Int32Array.from({ length: classes }, (_, i) => i % dim),
        'int32',
      ),
      dim,
    )
    .toFloat() as tf.Tensor2D;
}

/** C×d matrix whose row i holds Σ_j K_ij at column (i + j) mod d: the axis sub-gradient of coinciding pairs. */
function axisScatter(k: tf.Tensor2D, dim: number): tf.Tensor2D {
  const classes = k.shape[0];
  // (i + j) mod d = a  ⇔  j mod d = (a − i) mod d: sum K over j by j mod d, then shift row i by i
  const byResidue = tf.matMul(k, axisOneHot(classes, dim));
  // (index tables are uploaded, never read back)
  const index = Int32Array.from({ length: classes * dim }, (_, n) => {
    const i = Math.floor(n / dim);
    const a = n % dim;
    return (((a - i) % dim) + dim) % dim;
  });
  return tf.gather(byResidue, tf.tensor2d(index, [classes, dim], 'int32'), 1, 1) as tf.Tensor2D;
}

/**
 * The repeller ½ Σ_{y≠y'} max(0, 2m − ‖c_y − c_y'‖)² (times 1/(C(C−1)) for `mean`) as an op of
 * the anchors, with loss-core's sub-gradient at coinciding anchors i < j: i along +axis and j along
 * −axis, axis = (i + j) mod d.
 */
function repellerTerm(anchors: tf.Tensor2D, o: CamLossOptions, differencesMaxFloats: number): tf.Scalar {
  const [classes, dim] = anchors.shape;
  const pairs = classes * (classes - 1);
  const scale = o.reduction.repeller === 'mean' ? (pairs > 0 ? 1 / pairs : 0) : 1;
  const twoM = 2 * o.margin;
  const op = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
    const x = a as tf.Tensor2D;
    const offDiagonal = tf.sub(1, tf.eye(classes));
    const distances = pairwiseDistances(x, differencesMaxFloats);
    const gap = tf.mul(tf.relu(tf.sub(twoM, distances)), offDiagonal);
    save([x, distances, gap, offDiagonal]);
    const value = tf.mul(scale * 0.5, tf.sum(tf.square(gap))) as tf.Scalar;
    return {
      value,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, dist, h, off] = saved as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
        const positive = tf.greater(dist, 0);
        // g_ij = 2·h_ij / D_ij for separated pairs; ∂/∂c_i = −Σ_j g_ij (c_i − c_j)
        const g = tf.where(positive, tf.div(tf.mul(2, h), tf.maximum(dist, 1e-30)), tf.zerosLike(dist));
        const smooth = tf.sub(tf.matMul(g, xs), tf.mul(tf.sum(g, 1, true), xs));
        // coinciding pairs (i ≠ j, D = 0): i < j moves along −axis in the gradient (descent: +axis)
        const coincide = tf.mul(tf.cast(tf.logicalNot(positive), 'float32'), off);
        const upper = tf.sub(tf.linalg.bandPart(tf.onesLike(coincide), 0, -1), tf.eye(classes));
        const sign = tf.sub(tf.mul(coincide, upper), tf.mul(coincide, tf.transpose(upper)));
        const axis = tf.mul(-2 * twoM, axisScatter(sign as tf.Tensor2D, dim));
        return tf.mul(tf.mul(dy, scale), tf.add(smooth, axis));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(anchors) as tf.Scalar;
}

/**
 * The minimum-norm term Σ_y max(0, p − ‖c_y‖) (÷ C for `mean`), with loss-core's sub-gradient at
 * a zero anchor y: its direction is the unit vector along axis y mod d.
 */
function minNormTerm(anchors: tf.Tensor2D, o: CamLossOptions): tf.Scalar {
  const [classes, dim] = anchors.shape;
  const scale = o.reduction.minNorm === 'mean' ? 1 / classes : 1;
  const p = o.minNorm;
  const op = tf.customGrad(((a: tf.Tensor, save: tf.GradSaveFunc) => {
    const x = a as tf.Tensor2D;
    const norms = tf.sqrt(tf.sum(tf.square(x), 1, true));
    save([x, norms]);
    return {
      value: tf.mul(scale, tf.sum(tf.relu(tf.sub(p, norms)))) as tf.Scalar,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, n] = saved as [tf.Tensor2D, tf.Tensor2D];
        const active = tf.cast(tf.less(n, p), 'float32');
        const zero = tf.cast(tf.equal(n, 0), 'float32');
        const direction = tf.add(tf.div(xs, tf.maximum(n, 1e-30)), tf.mul(zero, axisOneHot(classes, dim)));
        return tf.mul(tf.mul(dy, -scale), tf.mul(active, direction));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]);
  return op(anchors) as tf.Scalar;
}

/**
 * The CAM loss computed entirely with tfjs ops, for backends that cannot read tensors back
 * synchronously (webgpu in Node): nothing leaves the device during a step. Values and gradients
 * equal loss-core's (the same formulas and sub-gradients, in float32); where reading back is free
 * (cpu, wasm) the loss-core path is faster.
 * @example
 * const { loss } = camLossOnDevice(embeddings, labels, anchors, resolveCamOptions({}));
 */
export function camLossOnDevice(
  embeddings: tf.Tensor2D,
  labels: tf.Tensor1D,
  anchors: tf.Tensor2D,
  o: CamLossOptions,
  { differencesMaxFloats = DIFFERENCES_MAX_FLOATS }: { differencesMaxFloats?: number } = {},
): CamDeviceValue {
  return tf.tidy(() => {
    const [batch] = embeddings.shape;
    const classes = anchors.shape[0];
    // one-hot products instead of gather: gather's gradient needs UnsortedSegmentSum, which wasm lacks
    const ownAnchors = tf.matMul(tf.oneHot(tf.cast(labels, 'int32'), classes).toFloat(), anchors);
    const scaleA = o.reduction.attractor === 'mean' ? 1 / batch : 1;
    const attractor = tf.mul(scaleA * 0.5, tf.sum(tf.square(tf.sub(embeddings, ownAnchors)))) as tf.Scalar;
    const repeller = repellerTerm(anchors, o, differencesMaxFloats);
    const minNorm = minNormTerm(anchors, o);
    const loss = tf.add(
      attractor,
      tf.add(tf.mul(o.repellerWeight, repeller), tf.mul(o.minNormWeight, minNorm)),
    ) as tf.Scalar;
    return { loss, attractor, repeller, minNorm };
  });
}
