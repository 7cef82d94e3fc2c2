import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackbone } from '../models/registry';
import { resolveTrainConfig } from '../train/config';
import { createLocalEngine } from '../train/local-engine';
import { prepareWasmBackend } from './wasm';
import {
  ACTIVATION_FACTOR,
  activationFloatsPerImage,
  checkWasmStepMemory,
  estimateStepMemory,
  largestFittingBatch,
  OPTIMIZER_FACTOR,
  PARAMETER_FACTOR,
  WASM_STEP_BUDGET_BYTES,
} from './wasm-memory';

/** 8×8×3 → conv3×3(4, bias) → ReLU → GAP → dense(2): every shape known by hand. */
function tinyModel(): tf.LayersModel {
  const input = tf.input({ shape: [8, 8, 3] });
  let x = tf.layers.conv2d({ filters: 4, kernelSize: 3, padding: 'same' }).apply(input) as tf.SymbolicTensor;
  x = tf.layers.reLU().apply(x) as tf.SymbolicTensor;
  x = tf.layers.globalAveragePooling2d({}).apply(x) as tf.SymbolicTensor;
  const output = tf.layers.dense({ units: 2 }).apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: input, outputs: output });
}

/**
 * ResNet-18's layer outputs per image on 32×32×3 (CIFAR stem), counted from the architecture: the
 * input; stem conv, BN, ReLU; per block conv1, BN, ReLU, conv2, BN, add, ReLU, plus shortcut conv
 * and BN in the first block of stages 2–4; GAP and the embedding.
 */
function resnet18Floats(width1Channels: readonly number[], dim: number): number {
  const [c1, c2, c3, c4] = width1Channels as [number, number, number, number];
  const map = (side: number, c: number) => side * side * c;
  return (
    32 * 32 * 3 +
    3 * map(32, c1) +
    14 * map(32, c1) +
    16 * map(16, c2) +
    16 * map(8, c3) +
    16 * map(4, c4) +
    c4 +
    dim
  );
}

beforeAll(async () => {
  await prepareWasmBackend();
  await tf.setBackend('cpu');
});

describe('step memory estimate', () => {
  it('counts every layer output and weight of a model with known shapes', () => {
    const model = tinyModel();
    const floats = 8 * 8 * 3 + 8 * 8 * 4 + 8 * 8 * 4 + 4 + 2;
    const params = 3 * 3 * 3 * 4 + 4 + 4 * 2 + 2;
    expect(activationFloatsPerImage(model)).toBe(floats);
    const estimate = estimateStepMemory(model, 10);
    expect(estimate.parameters).toBe(params);
    expect(estimate.bytes).toBe(4 * (ACTIVATION_FACTOR * 10 * floats + PARAMETER_FACTOR * params));
    // At batch 1 the optimiser's temporaries dominate.
    expect(estimateStepMemory(model, 0).bytes).toBe(4 * OPTIMIZER_FACTOR * params);
    model.dispose();
  });

  it("matches ResNet-18's architecture and puts width 1 at B = 64 over one instance's budget, B = 32 under", () => {
    const model = createBackbone('resnet18', { inputShape: [32, 32, 3], dim: 64, seed: 1, width: 1 });
    expect(activationFloatsPerImage(model)).toBe(resnet18Floats([64, 128, 256, 512], 64));
    expect(estimateStepMemory(model, 64).bytes).toBeGreaterThan(WASM_STEP_BUDGET_BYTES);
    expect(estimateStepMemory(model, 32).bytes).toBeLessThan(WASM_STEP_BUDGET_BYTES);
    const fits = largestFittingBatch(model);
    expect(estimateStepMemory(model, fits).bytes).toBeLessThanOrEqual(WASM_STEP_BUDGET_BYTES);
    expect(estimateStepMemory(model, fits + 1).bytes).toBeGreaterThan(WASM_STEP_BUDGET_BYTES);
    model.dispose();
  });
});

describe('checkWasmStepMemory', () => {
  it('names the backbone, the batch size and the flags that fit when a step is too large', () => {
    const model = tinyModel();
    const perImage = 4 * ACTIVATION_FACTOR * activationFloatsPerImage(model);
    const fixed = 4 * PARAMETER_FACTOR * model.countParams();
    const budgetBytes = fixed + 5 * perImage; // 5 images fit, 6 do not
    let error: unknown;
    try {
      checkWasmStepMemory({ model, backbone: 'tiny', batchSize: 12, workers: 1, budgetBytes });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AnchorageError);
    const e = error as AnchorageError;
    expect(e.code).toBe('INVALID_ARGUMENT');
    expect(e.argument).toBe('batchSize');
    expect(e.value).toBe(12);
    expect(e.message).toContain('backbone tiny at batch size 12');
    expect(e.message).toContain('--workers 3 (4 images per worker)');
    expect(e.message).toContain('--batch-size 5 or smaller');
    // 12 over 3 workers is 4 per instance: it fits; over 2 it is 6: refused, naming the workers.
    expect(() =>
      checkWasmStepMemory({ model, backbone: 'tiny', batchSize: 12, workers: 3, budgetBytes }),
    ).not.toThrow();
    expect(() =>
      checkWasmStepMemory({ model, backbone: 'tiny', batchSize: 12, workers: 2, budgetBytes }),
    ).toThrow(/each of 2 workers \(6 images each\).*--batch-size 10 or smaller/);
    expect(() =>
      checkWasmStepMemory({ model, backbone: 'tiny', batchSize: 5, workers: 1, budgetBytes }),
    ).not.toThrow();
    model.dispose();
  });

  it('makes the wasm engine refuse ResNet-18 at width 1 and B = 64 before any step, and build it with two workers', async () => {
    await tf.setBackend('wasm');
    try {
      const base = {
        dataset: 'synthetic',
        backbone: 'resnet18',
        backboneOptions: { width: 1 },
        dim: 64,
        backend: 'wasm',
        loss: 'cross-entropy',
      } as const;
      const before = tf.memory().numTensors;
      await expect(
        createLocalEngine({
          config: resolveTrainConfig({ ...base, batchSize: 64, workers: 1 }),
          inputShape: [32, 32, 3],
          classes: 10,
        }),
      ).rejects.toThrow(
        /backbone resnet18 \(width 1\) at batch size 64 .*--workers 2 \(32 images per worker\)/,
      );
      expect(tf.memory().numTensors).toBe(before);
      const engine = await createLocalEngine({
        config: resolveTrainConfig({ ...base, batchSize: 64, workers: 2 }),
        inputShape: [32, 32, 3],
        classes: 10,
      });
      await engine.dispose();
    } finally {
      await tf.setBackend('cpu');
    }
  });
});
