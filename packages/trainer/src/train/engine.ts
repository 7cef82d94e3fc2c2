import type { TrainingSnapshot } from './checkpoint';

/** One batch in the form every engine takes: normalised float32 images B×H×W×C and B labels. */
export interface EngineBatch {
  images: Float32Array;
  labels: Int32Array;
  size: number;
}

/** The loss of a step and its named terms (whatever the loss reports), as plain numbers. */
export type StepTerms = { loss: number } & Record<string, number>;

/** The outcome of one step. When the loss is not finite nothing was applied. */
export interface StepOutcome {
  terms: StepTerms;
  applied: boolean;
}

/**
 * Where the model, the loss's variables and both optimisers live: on the calling thread
 * (`createLocalEngine`) or replicated over worker threads (`createParallelEngine`). The training
 * loop only sees this interface, so checkpoints and resume are the same for both.
 */
export interface TrainingEngine {
  /** The tfjs backend the steps run on. */
  readonly backend: string;
  /** What the retrieval embedding is (the loss decides). */
  readonly embedding: 'l2-normalized' | 'raw';
  /** Where the class anchors of the two-stage index come from: the loss, or the class means after training. */
  readonly classAnchors: 'loss' | 'class-means';
  /** Computes the loss of a batch and applies one step of both optimisers. */
  step(batch: EngineBatch): Promise<StepOutcome>;
  /** Model, loss variables, optimiser slots and the loss's class anchors as plain data (for checkpoints). */
  snapshot(): Promise<TrainingSnapshot>;
  /**
   * Called before the first step of each epoch (also of a resumed one), with its index from 0: a
   * backbone with frozen layers (`--freeze`, `--unfreeze-after`) starts training them here.
   */
  beginEpoch?(epoch: number): Promise<void>;
  /** Embeddings of a batch (inference mode, before any normalisation), B×d row-major. */
  embed(batch: EngineBatch): Promise<Float32Array>;
  dispose(): Promise<void>;
}
