import { selectBackend } from '../src/backends/index';
import { iterateBatches } from '../src/data/index';
import { createParallelEngine } from '../src/parallel/index';
import { resolveTrainConfig } from '../src/train/config';
import type { TrainingEngine } from '../src/train/engine';
import { createLocalEngine } from '../src/train/local-engine';
import { median, type StepShape, type StepTiming, syntheticDataset } from './refcnn-step';

/**
 * Training steps of the real engines (src/train, src/parallel) with a registered loss (default
 * CAM): `workers` = 1 runs the local engine on this thread's wasm backend; more runs the
 * data-parallel engine, one wasm replica per worker thread. Timed per step, batch conversion included.
 */
export async function timeLossSteps(
  shape: StepShape,
  warmup: number,
  steps: number,
  workers: number,
  loss = 'cam',
): Promise<StepTiming> {
  const config = resolveTrainConfig({
    dataset: 'synthetic',
    dim: shape.dim,
    batchSize: shape.batchSize,
    backend: 'wasm',
    loss,
  });
  const inputShape: [number, number, number] = [shape.height, shape.width, shape.channels];
  let engine: TrainingEngine;
  if (workers > 1) {
    engine = await createParallelEngine({ config, inputShape, classes: shape.classes, workers });
  } else {
    await selectBackend('wasm', { log: () => {} });
    engine = await createLocalEngine({ config, inputShape, classes: shape.classes });
  }
  const data = syntheticDataset(shape, 4);
  const stepsMs: number[] = [];
  try {
    let batches = iterateBatches(data, { batchSize: shape.batchSize, normalization: config.normalization });
    for (let step = 0; step < warmup + steps; step++) {
      const started = performance.now();
      let next = batches.next();
      if (next.done) {
        batches = iterateBatches(data, { batchSize: shape.batchSize, normalization: config.normalization });
        next = batches.next();
      }
      await engine.step(next.value!);
      if (step >= warmup) stepsMs.push(performance.now() - started);
    }
  } finally {
    await engine.dispose();
  }
  const medianMs = median(stepsMs);
  return { stepsMs, medianMs, imagesPerSecond: (1000 * shape.batchSize) / medianMs };
}

/** {@link timeLossSteps} with the CAM loss. */
export function timeCamSteps(
  shape: StepShape,
  warmup: number,
  steps: number,
  workers: number,
): Promise<StepTiming> {
  return timeLossSteps(shape, warmup, steps, workers, 'cam');
}
