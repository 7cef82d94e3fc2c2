import { Random } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import type { LossFactory, TrainableLoss } from './loss';
import { l2NormalizeRows, uniqueVariableName } from './normalize';

/**
 * Proxy-Anchor loss (Kim et al. 2020) with one learnable proxy per class. With s the cosine
 * similarities of ê and the normalised proxies (B×C) and P⁺ the classes present in the batch:
 * (1/|P⁺|) Σ_{p ∈ P⁺} log(1 + Σ_{i: y_i = p} exp(−α(s_ip − δ)))
 * + (1/C) Σ_p log(1 + Σ_{i: y_i ≠ p} exp(α(s_ip + δ))).
 */
export const proxyAnchorLossFactory: LossFactory = {
  description:
    'Proxy-Anchor: one learnable proxy per class, cosine similarities, positive and negative log-sum-exp',
  // Kim et al. train the proxies 100× faster; here 10×, as CAM's anchors.
  lrScale: 10,
  options: [
    { name: 'alpha', description: 'scale α of the similarities', default: 32, positive: true },
    { name: 'delta', description: 'margin δ', default: 0.1, min: 0 },
  ],
  create(options) {
    const { classes, dim, seed } = options;
    const alpha = options.alpha as number;
    const delta = options.delta as number;
    // Kaiming normal, fan-out mode, as PyTorch's kaiming_normal_ on a C×d tensor: std = sqrt(2 / C).
    const rng = new Random(seed);
    const std = Math.sqrt(2 / classes);
    const initial = Float32Array.from({ length: classes * dim }, () => std * rng.normal());
    const proxies = tf.tidy(() =>
      tf.variable(tf.tensor2d(initial, [classes, dim]), true, uniqueVariableName('proxy-anchor', 'proxies')),
    );
    const loss: TrainableLoss = {
      name: 'proxy-anchor',
      classes,
      dim,
      options: { alpha, delta },
      variables: { proxies },
      embedding: 'l2-normalized',
      meanOverBatch: false,
      compute(embeddings, labels) {
        const [positive, negative] = tf.tidy(() => {
          const s = tf.matMul(l2NormalizeRows(embeddings), l2NormalizeRows(proxies), false, true); // B×C
          const isClass = tf.oneHot(labels, classes).toFloat();
          const present = tf.cast(tf.greater(tf.sum(isClass, 0), 0), 'float32');
          const positiveSums = tf.sum(tf.mul(isClass, tf.exp(tf.mul(-alpha, tf.sub(s, delta)))), 0);
          const negativeSums = tf.sum(tf.mul(tf.sub(1, isClass), tf.exp(tf.mul(alpha, tf.add(s, delta)))), 0);
          return [
            tf.div(
              tf.sum(tf.mul(present, tf.log(tf.add(1, positiveSums)))),
              tf.maximum(tf.sum(present), 1),
            ) as tf.Scalar,
            tf.div(tf.sum(tf.log(tf.add(1, negativeSums))), classes) as tf.Scalar,
          ];
        });
        return { loss: tf.add(positive!, negative!), terms: { positive: positive!, negative: negative! } };
      },
      async classAnchors() {
        const normalized = l2NormalizeRows(proxies);
        const values = (await normalized.data()) as Float32Array;
        normalized.dispose();
        return values;
      },
      dispose() {
        proxies.dispose();
      },
    };
    return loss;
  },
};
