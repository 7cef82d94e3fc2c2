import { Random } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import type { LossCreateOptions, LossFactory, TrainableLoss } from './loss';
import { uniqueVariableName } from './normalize';

/** A seeded linear head d×C (Glorot-uniform weight, zero bias), as a softmax classifier starts. */
export function linearHead(
  loss: string,
  options: LossCreateOptions,
): { weight: tf.Variable<tf.Rank.R2>; bias: tf.Variable<tf.Rank.R1> } {
  const { classes, dim, seed } = options;
  const rng = new Random(seed);
  const limit = Math.sqrt(6 / (dim + classes));
  const values = Float32Array.from({ length: dim * classes }, () => (2 * rng.nextFloat() - 1) * limit);
  // tidy disposes the initial values; the variables, which hold copies, survive it.
  return tf.tidy(() => ({
    weight: tf.variable(tf.tensor2d(values, [dim, classes]), true, uniqueVariableName(loss, 'weight')),
    bias: tf.variable(tf.zeros([classes]), true, uniqueVariableName(loss, 'bias')) as tf.Variable<tf.Rank.R1>,
  }));
}

/**
 * Mean softmax cross-entropy of the logits e·W + b. The label's log-probability is picked with a
 * one-hot product rather than a gather, whose gradient needs a kernel wasm lacks.
 */
export function softmaxCrossEntropy(
  embeddings: tf.Tensor2D,
  labels: tf.Tensor1D,
  weight: tf.Tensor2D,
  bias: tf.Tensor1D,
): tf.Scalar {
  return tf.tidy(() => {
    const logits = tf.add(tf.matMul(embeddings, weight), bias);
    const oneHot = tf.oneHot(labels, weight.shape[1]).toFloat();
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/** Softmax cross-entropy on a linear head: the classification baseline. */
export const crossEntropyLossFactory: LossFactory = {
  description:
    'softmax cross-entropy of a linear head e·W + b (its weight and bias are the loss’s variables)',
  // The head is an ordinary layer of a classifier: it learns at the backbone's rate.
  lrScale: 1,
  options: [],
  create(options) {
    const { classes, dim } = options;
    const { weight, bias } = linearHead('cross-entropy', options);
    const loss: TrainableLoss = {
      name: 'cross-entropy',
      classes,
      dim,
      options: {},
      variables: { weight, bias },
      embedding: 'raw',
      meanOverBatch: true,
      compute(embeddings, labels) {
        const value = softmaxCrossEntropy(embeddings, labels, weight, bias);
        return { loss: value, terms: {} };
      },
      async classAnchors() {
        return undefined;
      },
      dispose() {
        tf.dispose([weight, bias]);
      },
    };
    return loss;
  },
};
