import type * as tf from '@tensorflow/tfjs';

/** The value of a loss on one batch: the scalar to minimise and the terms shown in progress and metrics. */
export interface LossValue {
  loss: tf.Scalar;
  /** Named parts of `loss` (already weighted), each a scalar; what metrics.jsonl records. */
  terms: Record<string, tf.Scalar>;
}

/**
 * A metric-learning loss that the trainer can train with: it owns its tensors (anchors, proxies, a
 * classifier head…), computes its value on a batch of embeddings, and says which points serve as
 * class anchors for the two-stage index.
 */
export interface TrainableLoss {
  /** The registry name (`cam`, `cross-entropy`, …). */
  readonly name: string;
  readonly classes: number;
  /** Embedding size d. */
  readonly dim: number;
  /** The options the loss was created with, defaults filled in (recorded in checkpoints and bundles). */
  readonly options: Readonly<Record<string, number | string>>;
  /**
   * Every tensor the loss owns, by name. Those with `trainable` true are trained by the loss's own
   * optimiser and learning rate; the others change only in {@link TrainableLoss.afterStep}.
   */
  readonly variables: Readonly<Record<string, tf.Variable>>;
  /**
   * What the retrieval embedding is: `l2-normalized` (e/‖e‖, what the loss saw) or `raw` (e).
   * Evaluation, `embed`, the model bundle and its ONNX graph follow it.
   */
  readonly embedding: 'l2-normalized' | 'raw';
  /**
   * true when the value and the gradients of a batch are the size-weighted mean of those of its
   * parts (a mean over items plus terms that do not depend on the batch), so data-parallel workers
   * may each differentiate their own shard; false for in-batch losses (pairs, triplets, proxies
   * summed inside a log), whose workers send embeddings to one place instead.
   */
  readonly meanOverBatch: boolean;
  /** The loss of `embeddings` (B×d) with `labels` (B int32 in 0..C−1), differentiable in both and in the variables. */
  compute(embeddings: tf.Tensor2D, labels: tf.Tensor1D): LossValue;
  /** Updates state that gradients do not train (center loss's centres), after each applied step. */
  afterStep?(embeddings: tf.Tensor2D, labels: tf.Tensor1D): void;
  /**
   * The C×d points (row-major) that the two-stage index uses as class anchors, or `undefined` when
   * the loss has none; then the class means of the training embeddings serve instead.
   */
  classAnchors(): Promise<Float32Array | undefined>;
  dispose(): void;
}

/** What every loss factory receives: the problem's size, a seed, and the loss's own options. */
export interface LossCreateOptions {
  classes: number;
  dim: number;
  seed: number;
  [option: string]: number | string;
}

/** One option of a loss, as the registry, the config and the CLI (`--kebab-case` flag) see it. */
export interface LossOptionSpec {
  /** camelCase name; the CLI flag is its kebab-case form (`centerWeight` → `--center-weight`). */
  name: string;
  description: string;
  default: number | string;
  /** Allowed strings; absent for numeric options. */
  choices?: readonly string[];
  /** Smallest allowed value of a numeric option (inclusive unless `positive`). */
  min?: number;
  /** The value must be > 0. */
  positive?: boolean;
}

/** How a loss is registered: its options and how to build one. */
export interface LossFactory {
  /** One line for `train --help`. */
  description: string;
  options: readonly LossOptionSpec[];
  /**
   * The default learning rate of the loss's own variables, as a multiple of the backbone's
   * (`--loss-lr` replaces it).
   */
  lrScale: number;
  /** Builds the loss; `options` already holds every option of {@link LossFactory.options}, validated. */
  create(options: LossCreateOptions): TrainableLoss;
}
