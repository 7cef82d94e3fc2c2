import * as tf from '@tensorflow/tfjs';
import type { LossFactory, TrainableLoss } from './loss';
import { l2NormalizeRows, pairwiseDistances } from './normalize';

/**
 * Batch-hard triplet loss (Hermans et al. 2017) on normalised embeddings ê with
 * d_ij = sqrt(‖ê_i − ê_j‖² + 1e-12): for each anchor i its hardest positive (largest d to another
 * item of its class) and hardest negative (smallest d to another class); the mean over the anchors
 * that have both of max(0, d_ap − d_an + margin).
 */
export const tripletLossFactory: LossFactory = {
  description: 'batch-hard triplets on ê = e/‖e‖: hardest positive closer than hardest negative by margin',
  lrScale: 1,
  options: [{ name: 'margin', description: 'triplet margin', default: 0.2, positive: true }],
  create(options) {
    const { classes, dim } = options;
    const margin = options.margin as number;
    const loss: TrainableLoss = {
      name: 'triplet',
      classes,
      dim,
      options: { margin },
      variables: {},
      embedding: 'l2-normalized',
      meanOverBatch: false,
      compute(embeddings, labels) {
        const [value, hardPositive, hardNegative] = tf.tidy(() => {
          const b = labels.shape[0];
          const { distances } = pairwiseDistances(l2NormalizeRows(embeddings));
          const equal = tf.equal(tf.expandDims(labels, 1), tf.expandDims(labels, 0)).toFloat();
          const positives = tf.sub(equal, tf.eye(b));
          const negatives = tf.sub(1, equal);
          // Distances are > 0, so a masked-out 0 never wins the max when a positive exists.
          const dap = tf.max(tf.mul(distances, positives), 1);
          // A masked-out entry is pushed far beyond any distance between unit vectors (≤ 2).
          const dan = tf.min(tf.add(distances, tf.mul(tf.sub(1, negatives), 1e3)), 1);
          const valid = tf.mul(
            tf.cast(tf.greater(tf.sum(positives, 1), 0), 'float32'),
            tf.cast(tf.greater(tf.sum(negatives, 1), 0), 'float32'),
          );
          const count = tf.maximum(tf.sum(valid), 1);
          const mean = (x: tf.Tensor) => tf.div(tf.sum(tf.mul(x, valid)), count) as tf.Scalar;
          return [mean(tf.relu(tf.add(tf.sub(dap, dan), margin))), mean(dap), mean(dan)];
        });
        return { loss: value!, terms: { hardPositive: hardPositive!, hardNegative: hardNegative! } };
      },
      async classAnchors() {
        return undefined;
      },
      dispose() {},
    };
    return loss;
  },
};
