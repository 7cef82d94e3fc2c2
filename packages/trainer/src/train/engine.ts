import type { CamTerms } from '../cam';
import type { TrainingSnapshot } from './checkpoint';

/** One batch in the form every engine takes: normalised float32 images B×H×W×C and B labels. */
export interface EngineBatch {
  images: Float32Array;
  labels: Int32Array;
  size: number;
}

/** The outcome of one step. When the loss is not finite nothing was applied. */
export interface StepOutcome {
  terms: CamTerms;
  applied: boolean;
}

/**
 * Where the model, the anchors and both optimisers live: on the calling thread
 * (`createLocalEngine`) or replicated over worker threads (`createParallelEngine`). The training
 * loop only sees this interface, so checkpoints and resume are the same for both.
 */
export interface TrainingEngine {
  /** The tfjs backend the steps run on. */
  readonly backend: string;
  /** Computes the CAM loss of a batch and applies one step of both optimisers. */
  step(batch: EngineBatch): Promise<StepOutcome>;
  /** Model, anchors and optimiser slots as plain data (for checkpoints). */
  snapshot(): Promise<TrainingSnapshot>;
  dispose(): Promise<void>;
}
