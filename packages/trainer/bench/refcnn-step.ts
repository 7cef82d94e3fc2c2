import * as tf from '@tensorflow/tfjs';
import { type Dataset, iterateBatches } from '../src/data/index';
import { createBackbone } from '../src/models/index';
import { Random } from '../src/random';

/** Shape of one benchmark step: refcnn on H×W×C images with a dense softmax cross-entropy head. */
export interface StepShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly batchSize: number;
  readonly dim: number;
  readonly classes: number;
}

/**
 * Per-step wall times (ms) after warm-up, their median and the images/s it implies; plus the
 * process CPU time per step (all threads), which a machine shared with other jobs inflates far
 * less than wall time.
 */
export interface StepTiming {
  readonly stepsMs: number[];
  readonly medianMs: number;
  readonly imagesPerSecond: number;
  readonly cpuStepsMs?: number[];
  readonly medianCpuMs?: number;
}

/** The median of a non-empty list. */
export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Random uint8 images and labels: speed does not depend on what the pixels show. */
export function syntheticDataset(shape: StepShape, batches: number, seed = 1): Dataset {
  const rng = new Random(seed);
  const n = shape.batchSize * batches;
  return {
    name: 'synthetic',
    split: 'train',
    images: Uint8Array.from({ length: n * shape.height * shape.width * shape.channels }, () =>
      rng.nextInt(256),
    ),
    labels: Int32Array.from({ length: n }, () => rng.nextInt(shape.classes)),
    height: shape.height,
    width: shape.width,
    channels: shape.channels,
    classes: Array.from({ length: shape.classes }, (_, i) => String(i)),
  };
}

/**
 * Times full training steps on the active backend: uint8 → float32 batch conversion, forward,
 * backward, one Adam update and the loss read back (which waits for the device).
 */
export async function timeRefCnnSteps(shape: StepShape, warmup: number, steps: number): Promise<StepTiming> {
  const data = syntheticDataset(shape, 4);
  const model = createBackbone('refcnn', {
    inputShape: [shape.height, shape.width, shape.channels],
    dim: shape.dim,
    seed: 1,
  });
  const head = tf.layers.dense({ units: shape.classes, name: 'head' });
  const net = tf.sequential({ layers: [model, head] });
  const optimizer = tf.train.adam(1e-3);
  const stepsMs: number[] = [];
  const cpuStepsMs: number[] = [];
  let batches = iterateBatches(data, { batchSize: shape.batchSize });
  for (let step = 0; step < warmup + steps; step++) {
    const start = performance.now();
    const cpuStart = process.cpuUsage();
    let next = batches.next();
    if (next.done) {
      batches = iterateBatches(data, { batchSize: shape.batchSize });
      next = batches.next();
    }
    const batch = next.value!;
    const loss = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [batch.size, shape.height, shape.width, shape.channels]);
      const y = tf.oneHot(tf.tensor1d(batch.labels, 'int32'), shape.classes);
      return optimizer.minimize(
        () => tf.losses.softmaxCrossEntropy(y, net.apply(x) as tf.Tensor) as tf.Scalar,
        true,
      ) as tf.Scalar;
    });
    await loss.data();
    loss.dispose();
    if (step >= warmup) {
      stepsMs.push(performance.now() - start);
      const cpu = process.cpuUsage(cpuStart);
      cpuStepsMs.push((cpu.user + cpu.system) / 1000);
    }
  }
  optimizer.dispose();
  net.dispose();
  const medianMs = median(stepsMs);
  return {
    stepsMs,
    medianMs,
    imagesPerSecond: shape.batchSize / (medianMs / 1000),
    cpuStepsMs,
    medianCpuMs: median(cpuStepsMs),
  };
}
