import type { CamTerms } from '../cam';
import type { TrainingSnapshot } from '../train/checkpoint';
import type { TrainConfig } from '../train/config';
import type { EngineBatch } from '../train/engine';

/** Messages from the main thread to a training worker. */
export type WorkerRequest =
  | {
      type: 'init';
      config: TrainConfig;
      inputShape: [number, number, number];
      classes: number;
      snapshot: TrainingSnapshot | undefined;
    }
  | { type: 'gradients'; batch: EngineBatch }
  | { type: 'apply'; values: Float32Array }
  | { type: 'snapshot' }
  | { type: 'weights' };

/** Messages from a training worker to the main thread; each answers the request before it. */
export type WorkerResponse =
  | { type: 'ready'; backend: string; gradientLength: number }
  | { type: 'gradients'; terms: CamTerms; values: Float32Array | undefined }
  | { type: 'applied' }
  | { type: 'snapshot'; snapshot: TrainingSnapshot }
  | { type: 'weights'; values: Float32Array }
  | { type: 'error'; message: string; code: string | undefined; stack: string | undefined };
