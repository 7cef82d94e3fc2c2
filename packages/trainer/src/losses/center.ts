import * as tf from '@tensorflow/tfjs';
import { linearHead, softmaxCrossEntropy } from './cross-entropy';
import type { LossFactory, TrainableLoss } from './loss';
import { uniqueVariableName } from './normalize';

/**
 * Center loss (Wen et al. 2016): softmax cross-entropy + λ_c · ½ · mean_i ‖e_i − c_{y_i}‖². The
 * centres start at 0 and are not trained by the optimiser: after each step
 * c_j ← c_j − α · Σ_{i: y_i = j} (c_j − e_i) / (1 + n_j).
 */
export const centerLossFactory: LossFactory = {
  description: 'cross-entropy + λ_c·½·mean‖e − c_y‖², centres moved toward their class after each step',
  lrScale: 1,
  options: [
    { name: 'centerWeight', description: 'weight λ_c of the centre term', default: 0.1, min: 0 },
    { name: 'centerRate', description: 'centre update rate α', default: 0.5, min: 0 },
  ],
  create(options) {
    const { classes, dim } = options;
    const centerWeight = options.centerWeight as number;
    const centerRate = options.centerRate as number;
    const { weight, bias } = linearHead('center', options);
    const centers = tf.tidy(() =>
      tf.variable(tf.zeros([classes, dim]), false, uniqueVariableName('center', 'centers')),
    );
    const loss: TrainableLoss = {
      name: 'center',
      classes,
      dim,
      options: { centerWeight, centerRate },
      variables: { weight, bias, centers },
      embedding: 'raw',
      meanOverBatch: true,
      compute(embeddings, labels) {
        const crossEntropy = softmaxCrossEntropy(embeddings, labels, weight, bias);
        const center = tf.tidy(() => {
          const ownCenters = tf.matMul(tf.oneHot(labels, classes).toFloat(), centers);
          return tf.mul(
            centerWeight * 0.5,
            tf.mean(tf.sum(tf.square(tf.sub(embeddings, ownCenters)), 1)),
          ) as tf.Scalar;
        });
        return { loss: tf.add(crossEntropy, center), terms: { crossEntropy, center } };
      },
      afterStep(embeddings, labels) {
        tf.tidy(() => {
          const oneHot = tf.oneHot(labels, classes).toFloat(); // B×C
          const counts = tf.expandDims(tf.sum(oneHot, 0), 1); // C×1
          const sums = tf.matMul(oneHot, embeddings, true, false); // C×d
          // Σ_{i: y_i = j} (c_j − e_i) = n_j·c_j − Σ e_i
          const delta = tf.div(tf.sub(tf.mul(counts, centers), sums), tf.add(counts, 1));
          centers.assign(tf.sub(centers, tf.mul(centerRate, delta)));
        });
      },
      async classAnchors() {
        return undefined;
      },
      dispose() {
        tf.dispose([weight, bias, centers]);
      },
    };
    return loss;
  },
};
