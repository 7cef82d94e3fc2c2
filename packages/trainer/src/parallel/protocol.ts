import type { TrainingSnapshot } from '../train/checkpoint';
import type { TrainConfig } from '../train/config';
import type { EngineBatch, StepTerms } from '../train/engine';

/** Messages from the main thread to a training worker. */
export type WorkerRequest =
  | {
      type: 'init';
      config: TrainConfig;
      inputShape: [number, number, number];
      classes: number;
      snapshot: TrainingSnapshot | undefined;
      /** Without a snapshot: the model built on the main thread (topology and weights) to start from. */
      model?: TrainingSnapshot['model'];
    }
  /** Loss and gradients of a shard (losses that are a mean over the batch). */
  | { type: 'gradients'; batch: EngineBatch }
  /** Training-mode embeddings of a shard, which the worker keeps for the `backpropagate` that follows. */
  | { type: 'embeddings'; batch: EngineBatch }
  /** Loss of the whole batch's embeddings and its gradient (in-batch losses, on one replica). */
  | { type: 'loss-gradients'; embeddings: Float32Array; labels: Int32Array }
  /** The model's gradient for the kept shard, given the loss's gradient by its embeddings. */
  | { type: 'backpropagate'; embeddingGradient: Float32Array }
  /** Apply averaged gradients; then the loss's `afterStep` on the whole batch, when it has one. */
  | {
      type: 'apply';
      values: Float32Array;
      /** The model's non-trainable weights (moving statistics) every replica takes. */
      state?: Float32Array;
      afterStep?: { embeddings: Float32Array; labels: Int32Array };
    }
  /** Start of an epoch (frozen layers thaw at `unfreezeAfter`). */
  | { type: 'epoch'; epoch: number }
  | { type: 'embed'; batch: EngineBatch }
  | { type: 'snapshot' }
  | { type: 'weights' };

/** Messages from a training worker to the main thread; each answers the request before it. */
export type WorkerResponse =
  | {
      type: 'ready';
      backend: string;
      gradientLength: number;
      modelGradientLength: number;
      meanOverBatch: boolean;
      hasAfterStep: boolean;
      embedding: 'l2-normalized' | 'raw';
      classAnchors: 'loss' | 'class-means';
    }
  | {
      type: 'gradients';
      terms: StepTerms;
      values: Float32Array | undefined;
      embeddings?: Float32Array;
      state?: Float32Array;
    }
  | { type: 'embeddings'; values: Float32Array }
  | {
      type: 'loss-gradients';
      terms: StepTerms;
      embeddings: Float32Array | undefined;
      variables: Float32Array | undefined;
    }
  | { type: 'backpropagated'; values: Float32Array; state?: Float32Array }
  | { type: 'epoch-started' }
  | { type: 'applied' }
  | { type: 'embedded'; values: Float32Array }
  | { type: 'snapshot'; snapshot: TrainingSnapshot }
  | { type: 'weights'; values: Float32Array }
  | { type: 'error'; message: string; code: string | undefined; stack: string | undefined };
