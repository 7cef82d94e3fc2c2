import { AnchorageError, initAnchors } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { type CamTerms, TfCamLoss } from '../cam';
import { createBackbone } from '../models';
import {
  modelFromSnapshot,
  modelSnapshot,
  optimizerSnapshot,
  restoreOptimizer,
  type TrainingSnapshot,
} from './checkpoint';
import type { TrainConfig } from './config';
import type { EngineBatch, StepOutcome, TrainingEngine } from './engine';

/** What a local engine needs besides the config. */
export interface LocalEngineOptions {
  config: TrainConfig;
  /** [height, width, channels] of one image. */
  inputShape: [number, number, number];
  classes: number;
  /** Continue from this state instead of a fresh seeded initialisation. */
  snapshot?: TrainingSnapshot;
}

/** The gradients of one batch, flattened: every trainable model weight in order, then the anchors. */
export interface FlatGradients {
  terms: CamTerms;
  /** `undefined` when the loss was not finite. */
  values: Float32Array | undefined;
}

/** A {@link TrainingEngine} on the calling thread, plus the split step the parallel engine uses. */
export interface LocalEngine extends TrainingEngine {
  readonly model: tf.LayersModel;
  readonly cam: TfCamLoss;
  /** Number of floats in {@link FlatGradients.values}. */
  readonly gradientLength: number;
  /** Loss and gradients of a batch without applying them. */
  gradients(batch: EngineBatch): FlatGradients;
  /** Applies flattened gradients (same layout as {@link LocalEngine.gradients}) with both optimisers. */
  applyGradients(values: Float32Array): void;
}

function isNonFinite(error: unknown): boolean {
  return error instanceof AnchorageError && error.code === 'NON_FINITE';
}

const nanTerms: CamTerms = {
  loss: Number.NaN,
  attractor: Number.NaN,
  repeller: Number.NaN,
  minNorm: Number.NaN,
};

/**
 * Builds the backbone (seeded) and the anchors, or restores them and both optimisers from a
 * snapshot. The backend must already be selected.
 */
export async function createLocalEngine(options: LocalEngineOptions): Promise<LocalEngine> {
  const { config, inputShape, classes, snapshot } = options;
  const model = snapshot
    ? await modelFromSnapshot(snapshot.model)
    : createBackbone(config.backbone, { inputShape, dim: config.dim, seed: config.seed });
  const anchors =
    snapshot?.anchors ??
    initAnchors(classes, config.dim, {
      strategy: config.anchorInit,
      seed: config.seed,
      margin: config.margin,
      minNorm: config.minNorm,
    });
  const cam = new TfCamLoss({
    classes,
    dim: config.dim,
    anchors,
    margin: config.margin,
    minNorm: config.minNorm,
    repellerWeight: config.repellerWeight,
    minNormWeight: config.minNormWeight,
  });
  const modelOptimizer = tf.train.adam(config.lr);
  const anchorOptimizer = tf.train.adam(config.anchorLr);
  if (snapshot) {
    await restoreOptimizer(modelOptimizer, snapshot.optimizers.model);
    await restoreOptimizer(anchorOptimizer, snapshot.optimizers.anchors);
  }
  // LayerVariable.read() is the underlying tf.Variable, which is what tf.variableGrads tracks.
  const weights = model.trainableWeights.map((w) => w.read() as tf.Variable);
  const variables = [...weights, cam.anchors];
  const sizes = variables.map((v) => v.size);
  const gradientLength = sizes.reduce((a, b) => a + b, 0);
  const [height, width, channels] = inputShape;

  /** Loss and gradient tensors of a batch; the caller disposes the gradients. */
  const lossAndGrads = (batch: EngineBatch): { terms: CamTerms; grads: tf.NamedTensorMap | undefined } => {
    const x = tf.tensor4d(batch.images, [batch.size, height, width, channels]);
    try {
      const { value, grads } = tf.variableGrads(
        () => cam.apply(model.apply(x, { training: true }) as tf.Tensor2D, batch.labels),
        variables,
      );
      value.dispose();
      const terms = { ...cam.lastTerms! };
      if (!Number.isFinite(terms.loss)) {
        tf.dispose(Object.values(grads));
        return { terms, grads: undefined };
      }
      return { terms, grads };
    } catch (error) {
      // loss-core refuses NaN/Inf embeddings: the weights have diverged.
      if (isNonFinite(error)) return { terms: nanTerms, grads: undefined };
      throw error;
    } finally {
      x.dispose();
    }
  };

  const applyNamed = (grads: tf.NamedTensorMap): void => {
    modelOptimizer.applyGradients(weights.map((w) => ({ name: w.name, tensor: grads[w.name]! })));
    anchorOptimizer.applyGradients([{ name: cam.anchors.name, tensor: grads[cam.anchors.name]! }]);
  };

  return {
    backend: tf.getBackend(),
    model,
    cam,
    gradientLength,
    async step(batch: EngineBatch): Promise<StepOutcome> {
      const { terms, grads } = lossAndGrads(batch);
      if (grads === undefined) return { terms, applied: false };
      applyNamed(grads);
      tf.dispose(Object.values(grads));
      return { terms, applied: true };
    },
    gradients(batch: EngineBatch): FlatGradients {
      const { terms, grads } = lossAndGrads(batch);
      if (grads === undefined) return { terms, values: undefined };
      const values = new Float32Array(gradientLength);
      let offset = 0;
      for (const v of variables) {
        const g = grads[v.name]!;
        values.set(g.dataSync() as Float32Array, offset);
        offset += v.size;
      }
      tf.dispose(Object.values(grads));
      return { terms, values };
    },
    applyGradients(values: Float32Array): void {
      const grads: tf.NamedTensorMap = {};
      let offset = 0;
      variables.forEach((v, i) => {
        grads[v.name] = tf.tensor(values.slice(offset, offset + sizes[i]!), v.shape);
        offset += sizes[i]!;
      });
      applyNamed(grads);
      tf.dispose(Object.values(grads));
    },
    async snapshot(): Promise<TrainingSnapshot> {
      return {
        model: await modelSnapshot(model),
        anchors: cam.anchorValues(),
        optimizers: {
          model: await optimizerSnapshot(modelOptimizer),
          anchors: await optimizerSnapshot(anchorOptimizer),
        },
      };
    },
    async dispose(): Promise<void> {
      modelOptimizer.dispose();
      anchorOptimizer.dispose();
      cam.dispose();
      model.dispose();
    },
  };
}
