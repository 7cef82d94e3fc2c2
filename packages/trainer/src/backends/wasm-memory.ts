import { AnchorageError } from '@anchorage/loss-core';
import type * as tf from '@tensorflow/tfjs';

/** What one wasm instance addresses: a wasm32 heap ends at 4 GiB. */
export const WASM_HEAP_BYTES = 4 * 2 ** 30;

/**
 * The bytes of tensors one training step may hold on one wasm instance: the heap less a quarter for
 * what tfjs does not count (the allocator's fragmentation, XNNPACK's packed weights and buffers).
 * ResNet-18 at width 1 on 32×32 images peaks at about 1.8 GiB of tensors at B = 32 and trains; at
 * B = 64 (about 3.4 GiB) the heap runs out and the process dies inside XNNPACK.
 */
export const WASM_STEP_BUDGET_BYTES = 3 * 2 ** 30;

/**
 * Floats kept per activation float during a step: the forward output the tape keeps, its gradient,
 * and the temporaries of the gradient functions (padded and dilated gradients, batch norm's
 * intermediate products). Measured on ResNet-18: 6.7 tfjs-counted floats per layer-output float.
 */
export const ACTIVATION_FACTOR = 7;

/** Floats per parameter while gradients exist: the weight, Adam's two moments and the gradient. */
export const PARAMETER_FACTOR = 4;

/**
 * Floats per parameter while Adam updates (its temporaries for every variable live in one scope):
 * measured 17 on ResNet-18, a fixed cost that dominates at small batches.
 */
export const OPTIMIZER_FACTOR = 17;

/** A training step's memory, estimated from the model's layer shapes and weights. */
export interface StepMemoryEstimate {
  /** Floats in every layer's output for one image (the input layer included). */
  activationFloatsPerImage: number;
  /** Every weight of the model, trainable or not. */
  parameters: number;
  /** Estimated peak bytes of tensors during one step at `batchSize`. */
  bytes: number;
}

/** Floats of one image's outputs summed over the model's layers (each output of a multi-output layer). */
export function activationFloatsPerImage(model: tf.LayersModel): number {
  let floats = 0;
  for (const layer of model.layers) {
    const shape = layer.outputShape;
    const shapes = (Array.isArray(shape[0]) ? shape : [shape]) as (number | null)[][];
    for (const s of shapes) floats += s.slice(1).reduce<number>((p, d) => p * (d ?? 1), 1);
  }
  return floats;
}

/** Peak bytes of one training step's tensors for per-instance batch `batchSize`, from the model alone. */
export function estimateStepMemory(model: tf.LayersModel, batchSize: number): StepMemoryEstimate {
  const activations = activationFloatsPerImage(model);
  const parameters = model.countParams();
  const backward = ACTIVATION_FACTOR * batchSize * activations + PARAMETER_FACTOR * parameters;
  const update = OPTIMIZER_FACTOR * parameters;
  return { activationFloatsPerImage: activations, parameters, bytes: 4 * Math.max(backward, update) };
}

/** The largest per-instance batch whose estimate fits `budget` bytes (0 when none does). */
export function largestFittingBatch(model: tf.LayersModel, budget = WASM_STEP_BUDGET_BYTES): number {
  const { activationFloatsPerImage: activations, parameters } = estimateStepMemory(model, 1);
  if (4 * OPTIMIZER_FACTOR * parameters > budget) return 0;
  return Math.max(
    0,
    Math.floor((budget / 4 - PARAMETER_FACTOR * parameters) / (ACTIVATION_FACTOR * activations)),
  );
}

const gib = (bytes: number): string => `${(bytes / 2 ** 30).toFixed(1)} GiB`;

/**
 * Refuses, before anything runs, a training step that would not fit one wasm instance: `batchSize`
 * images split over `workers` instances (each takes ⌈batchSize / workers⌉). Throws
 * `AnchorageError('INVALID_ARGUMENT', …)` (argument `batchSize`) naming the backbone, the batch
 * size, the estimate and the `--workers` and `--batch-size` that fit.
 */
export function checkWasmStepMemory(options: {
  model: tf.LayersModel;
  backbone: string;
  batchSize: number;
  workers: number;
  budgetBytes?: number;
}): void {
  const { model, backbone, batchSize } = options;
  const workers = Math.max(1, options.workers);
  const budget = options.budgetBytes ?? WASM_STEP_BUDGET_BYTES;
  const perInstance = Math.ceil(batchSize / workers);
  const estimate = estimateStepMemory(model, perInstance);
  if (estimate.bytes <= budget) return;
  const fits = largestFittingBatch(model, budget);
  const where =
    workers === 1 ? 'one wasm instance' : `each of ${workers} workers (${perInstance} images each)`;
  let advice: string;
  if (fits === 0) {
    advice = `no batch size fits: the model's ${estimate.parameters} weights and the optimiser's state alone exceed it; use a smaller model or another backend`;
  } else {
    const neededWorkers = Math.ceil(batchSize / fits);
    advice = `use --workers ${neededWorkers} (${Math.ceil(batchSize / neededWorkers)} images per worker) or --batch-size ${fits * workers} or smaller`;
  }
  throw new AnchorageError(
    'INVALID_ARGUMENT',
    `backbone ${backbone} at batch size ${batchSize} needs about ${gib(estimate.bytes)} of wasm memory per training step on ${where}, more than the ${gib(budget)} a wasm instance's heap (at most 4 GiB) holds for one step; ${advice}`,
    { argument: 'batchSize', value: batchSize },
  );
}
