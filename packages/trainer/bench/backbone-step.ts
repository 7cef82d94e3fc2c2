import { selectBackend } from '../src/backends/index';
import { createParallelEngine } from '../src/parallel/index';
import { Random } from '../src/random';
import { resolveTrainConfig } from '../src/train/config';
import type { EngineBatch, TrainingEngine } from '../src/train/engine';
import { createLocalEngine } from '../src/train/local-engine';
import { median, type StepShape, type StepTiming } from './refcnn-step';

/** A backbone as the benchmark trains it: a registered name and its own options. */
export interface BenchBackbone {
  readonly label: string;
  readonly backbone: string;
  readonly options: Record<string, number | string>;
  readonly shape: StepShape;
}

/** Random normalised images and labels (speed does not depend on the pixels), `count` batches. */
function syntheticBatches(shape: StepShape, count: number): EngineBatch[] {
  const rng = new Random(1);
  const pixels = shape.height * shape.width * shape.channels;
  return Array.from({ length: count }, () => ({
    images: Float32Array.from({ length: shape.batchSize * pixels }, () => rng.nextFloat() * 2 - 1),
    labels: Int32Array.from({ length: shape.batchSize }, () => rng.nextInt(shape.classes)),
    size: shape.batchSize,
  }));
}

/**
 * Training steps of `b` through the trainer's engines with the softmax cross-entropy loss (a dense
 * head, the same computation as the PyTorch reference): `workers` = 1 runs the local engine on this
 * thread's wasm backend, more the data-parallel engine. Per-step wall time (the batch's copy to the
 * workers included) and, on one thread, process CPU time.
 */
export async function timeBackboneSteps(
  b: BenchBackbone,
  warmup: number,
  steps: number,
  workers: number,
): Promise<StepTiming> {
  const { shape } = b;
  const config = resolveTrainConfig({
    dataset: 'synthetic',
    backbone: b.backbone,
    backboneOptions: b.options,
    dim: shape.dim,
    batchSize: shape.batchSize,
    backend: 'wasm',
    loss: 'cross-entropy',
    workers,
  });
  const inputShape: [number, number, number] = [shape.height, shape.width, shape.channels];
  let engine: TrainingEngine;
  if (workers > 1) {
    engine = await createParallelEngine({ config, inputShape, classes: shape.classes, workers });
  } else {
    await selectBackend('wasm', { log: () => {} });
    engine = await createLocalEngine({ config, inputShape, classes: shape.classes });
  }
  const batches = syntheticBatches(shape, 2);
  const stepsMs: number[] = [];
  const cpuStepsMs: number[] = [];
  try {
    for (let step = 0; step < warmup + steps; step++) {
      const batch = batches[step % batches.length]!;
      const copy = { images: batch.images.slice(), labels: batch.labels.slice(), size: batch.size };
      const started = performance.now();
      const cpu = process.cpuUsage();
      await engine.step(copy);
      if (step >= warmup) {
        stepsMs.push(performance.now() - started);
        const used = process.cpuUsage(cpu);
        cpuStepsMs.push((used.user + used.system) / 1000);
      }
    }
  } finally {
    await engine.dispose();
  }
  const medianMs = median(stepsMs);
  return {
    stepsMs,
    medianMs,
    imagesPerSecond: (1000 * shape.batchSize) / medianMs,
    ...(workers === 1 ? { cpuStepsMs, medianCpuMs: median(cpuStepsMs) } : {}),
  };
}
