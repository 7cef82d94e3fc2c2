import * as tf from '@tensorflow/tfjs';
import type { LossFactory, TrainableLoss } from './loss';
import { l2NormalizeRows, pairwiseDistances } from './normalize';

/** The masks of the pairs i < j of a batch with equal and with different labels, B×B of 0/1. */
export function pairMasks(labels: tf.Tensor1D): { same: tf.Tensor2D; different: tf.Tensor2D } {
  return tf.tidy(() => {
    const b = labels.shape[0];
    const equal = tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)).toFloat() as tf.Tensor2D;
    const upper = tf.tensor2d(
      Float32Array.from({ length: b * b }, (_, k) => (k % b > Math.floor(k / b) ? 1 : 0)),
      [b, b],
    );
    return { same: tf.mul(equal, upper), different: tf.mul(tf.sub(1, equal), upper) };
  });
}

/** Σ values·mask / |mask|, or 0 when the mask is empty. */
function maskedMean(values: tf.Tensor, mask: tf.Tensor): tf.Scalar {
  return tf.tidy(() => tf.div(tf.sum(tf.mul(values, mask)), tf.maximum(tf.sum(mask), 1)) as tf.Scalar);
}

/**
 * Contrastive loss (Hadsell et al. 2006) over all pairs i < j of the batch, on normalised
 * embeddings ê with d_ij = sqrt(‖ê_i − ê_j‖² + 1e-12): mean over positive pairs of ½‖ê_i − ê_j‖²
 * plus mean over negative pairs of ½ max(0, margin − d_ij)²; an empty mean is 0.
 */
export const contrastiveLossFactory: LossFactory = {
  description: 'pairs of the batch on ê = e/‖e‖: pull positives together, push negatives ≥ margin apart',
  lrScale: 1,
  options: [{ name: 'margin', description: 'distance negatives are pushed to', default: 1, positive: true }],
  create(options) {
    const { classes, dim } = options;
    const margin = options.margin as number;
    const loss: TrainableLoss = {
      name: 'contrastive',
      classes,
      dim,
      options: { margin },
      variables: {},
      embedding: 'l2-normalized',
      meanOverBatch: false,
      compute(embeddings, labels) {
        const [positive, negative] = tf.tidy(() => {
          const { squared, distances } = pairwiseDistances(l2NormalizeRows(embeddings));
          const { same, different } = pairMasks(labels);
          return [
            maskedMean(tf.mul(0.5, squared), same),
            maskedMean(tf.mul(0.5, tf.square(tf.relu(tf.sub(margin, distances)))), different),
          ];
        });
        return { loss: tf.add(positive!, negative!), terms: { positive: positive!, negative: negative! } };
      },
      async classAnchors() {
        return undefined;
      },
      dispose() {},
    };
    return loss;
  },
};
