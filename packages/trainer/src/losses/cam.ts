import { DEFAULT_CAM_OPTIONS, initAnchors, resolveCamOptions } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { canReadSynchronously } from '../backends/quiet';
import { camLossOnDevice } from './cam-device';
import { TfCamLoss } from './cam-op';
import type { LossFactory, TrainableLoss } from './loss';
import { uniqueVariableName } from './normalize';

/**
 * The Class Anchor Margin loss (see `@anchorage/loss-core`): attractor + λ_R·repeller + λ_N·minimum norm, with one
 * learnable anchor per class. Value and analytic gradients come from `@anchorage/loss-core`.
 */
export const camLossFactory: LossFactory = {
  description: 'Class Anchor Margin: attract to class anchors, repel anchors ≥ 2m apart, anchors of norm ≥ p',
  // As before the loss plug-ins: anchors learn at 10× the backbone's rate (1e-2 at lr 1e-3).
  lrScale: 10,
  options: [
    // loss-core's defaults, m = p = 3, were chosen by the refcnn runs in this package's README.
    {
      name: 'margin',
      description: 'CAM margin m (anchors ≥ 2m apart)',
      default: DEFAULT_CAM_OPTIONS.margin,
      positive: true,
    },
    {
      name: 'minNorm',
      description: 'CAM minimum anchor norm p',
      default: DEFAULT_CAM_OPTIONS.minNorm,
      min: 0,
    },
    {
      name: 'repellerWeight',
      description: 'weight λ_R of the repeller term',
      default: DEFAULT_CAM_OPTIONS.repellerWeight,
      min: 0,
    },
    {
      name: 'minNormWeight',
      description: 'weight λ_N of the minimum-norm term',
      default: DEFAULT_CAM_OPTIONS.minNormWeight,
      min: 0,
    },
    {
      name: 'anchorInit',
      description: 'anchor initialisation',
      default: 'spread',
      choices: ['spread', 'random'],
    },
  ],
  create(options) {
    const { classes, dim, seed } = options;
    const margin = options.margin as number;
    const minNorm = options.minNorm as number;
    const op = new TfCamLoss({
      classes,
      dim,
      anchors: initAnchors(classes, dim, {
        strategy: options.anchorInit as 'spread' | 'random',
        seed,
        margin,
        minNorm,
      }),
      margin,
      minNorm,
      repellerWeight: options.repellerWeight as number,
      minNormWeight: options.minNormWeight as number,
      name: uniqueVariableName('cam', 'anchors'),
    });
    const deviceOptions = resolveCamOptions({
      margin,
      minNorm,
      repellerWeight: options.repellerWeight as number,
      minNormWeight: options.minNormWeight as number,
    });
    const { classes: _c, dim: _d, seed: _s, ...own } = options;
    const loss: TrainableLoss = {
      name: 'cam',
      classes,
      dim,
      options: own,
      variables: { anchors: op.anchors },
      embedding: 'raw',
      // The attractor is a mean over the batch; the repeller and minimum norm depend on the anchors only.
      meanOverBatch: true,
      compute(embeddings, labels) {
        if (!canReadSynchronously()) {
          // webgpu in Node: the same formulas and sub-gradients in tfjs ops, nothing read back
          const value = camLossOnDevice(embeddings, labels, op.anchors, deviceOptions);
          return {
            loss: value.loss,
            terms: { attractor: value.attractor, repeller: value.repeller, minNorm: value.minNorm },
          };
        }
        // loss-core runs on the CPU: the labels are read back like the embeddings inside the op.
        const loss = op.apply(embeddings, labels.dataSync() as Int32Array);
        const t = op.lastTerms!;
        return {
          loss,
          terms: {
            attractor: tf.scalar(t.attractor),
            repeller: tf.scalar(t.repeller),
            minNorm: tf.scalar(t.minNorm),
          },
        };
      },
      async classAnchors() {
        return (await op.anchors.data()) as Float32Array;
      },
      dispose() {
        op.dispose();
      },
    };
    return loss;
  },
};
