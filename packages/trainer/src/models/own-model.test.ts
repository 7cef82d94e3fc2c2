import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker } from '../export/onnx-test-support';
import { Random } from '../random';
import { resolveTrainConfig } from '../train/config';
import type { EngineBatch } from '../train/engine';
import { createLocalEngine } from '../train/local-engine';
import { loadBackbone } from './registry';

const dir = mkdtempSync(join(tmpdir(), 'anchorage-own-model-'));
const file = join(dir, 'model.json');
const check = exportChecker();

/** A small "pretrained" classifier: conv–BN–ReLU–conv–GAP–dense(3), saved as model.json + weights. */
async function saveSmallModel(): Promise<Record<string, Float32Array>> {
  const x = tf.input({ shape: [8, 8, 1] });
  let h = tf.layers
    .conv2d({ name: 'c1', filters: 4, kernelSize: 3, padding: 'same' })
    .apply(x) as tf.SymbolicTensor;
  h = tf.layers.batchNormalization({ name: 'bn1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers.reLU({ name: 'relu1' }).apply(h) as tf.SymbolicTensor;
  h = tf.layers
    .conv2d({ name: 'c2', filters: 8, kernelSize: 3, activation: 'relu' })
    .apply(h) as tf.SymbolicTensor;
  h = tf.layers.globalAveragePooling2d({ name: 'gap' }).apply(h) as tf.SymbolicTensor;
  const out = tf.layers.dense({ name: 'head', units: 3 }).apply(h) as tf.SymbolicTensor;
  const model = tf.model({ inputs: x, outputs: out });
  // non-trivial moving statistics, as a trained model has
  tf.tidy(() => {
    for (const w of model.getLayer('bn1').weights)
      w.write(tf.randomUniform(w.shape as number[], 0.5, 1.5, 'float32', 3));
  });
  const values: Record<string, Float32Array> = {};
  for (const w of model.weights) values[w.originalName] = Float32Array.from(w.read().dataSync());
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const data = artifacts.weightData as ArrayBuffer;
      writeFileSync(join(dir, 'weights.bin'), new Uint8Array(data));
      writeFileSync(
        file,
        JSON.stringify({
          format: 'layers-model',
          modelTopology: artifacts.modelTopology,
          weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
        }),
      );
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  model.dispose();
  return values;
}

let saved: Record<string, Float32Array>;
beforeAll(async () => {
  await tf.setBackend('cpu');
  saved = await saveSmallModel();
});
afterAll(async () => {
  await check.expectNoWarnings();
  rmSync(dir, { recursive: true, force: true });
});

const byName = (model: tf.LayersModel) =>
  Object.fromEntries(model.weights.map((w) => [w.originalName, Array.from(w.read().dataSync())]));

describe('a backbone read from a model.json', () => {
  it('is cut at the last pooling layer with an embedding layer added, its weights as saved', async () => {
    const before = tf.memory().numTensors;
    const model = await loadBackbone(file, { inputShape: [8, 8, 1], dim: 5, seed: 1 });
    expect(model.layers.map((l) => l.name)).toEqual([
      'input1',
      'c1',
      'bn1',
      'relu1',
      'c2',
      'gap',
      'embedding',
    ]);
    const weights = byName(model);
    for (const name of ['c1/kernel', 'c1/bias', 'bn1/moving_mean', 'bn1/moving_variance', 'c2/kernel'])
      expect(weights[name]).toEqual(Array.from(saved[name]!));
    const y = tf.tidy(() => (model.predict(tf.ones([2, 8, 8, 1])) as tf.Tensor).shape);
    expect(y).toEqual([2, 5]);
    await check.expectMatch(model);
    model.dispose();
    // the head cut off is disposed too
    expect(tf.memory().numTensors).toBe(before);
  });

  it('takes --feature-layer (a feature map is average-pooled) and refuses what does not fit', async () => {
    const model = await loadBackbone(file, { inputShape: [8, 8, 1], dim: 4, seed: 1, featureLayer: 'relu1' });
    expect(model.layers.map((l) => l.name).slice(-3)).toEqual(['relu1', 'feature_pool', 'embedding']);
    model.dispose();
    await expect(
      loadBackbone(file, { inputShape: [8, 8, 1], dim: 4, seed: 1, featureLayer: 'c9' }),
    ).rejects.toThrow(/has no layer "c9"; its layers: input1, c1, bn1, relu1, c2, gap, head/);
    await expect(loadBackbone(file, { inputShape: [16, 16, 1], dim: 4, seed: 1 })).rejects.toMatchObject({
      code: 'DIMENSION_MISMATCH',
      message: expect.stringMatching(/needs 8×8 images/),
    });
    await expect(
      loadBackbone(join(dir, 'none.json'), { inputShape: [8, 8, 1], dim: 4, seed: 1 }),
    ).rejects.toMatchObject({
      code: 'NOT_FOUND',
    });
    const graph = join(dir, 'graph.json');
    writeFileSync(graph, JSON.stringify({ format: 'graph-model', modelTopology: {}, weightsManifest: [] }));
    await expect(loadBackbone(graph, { inputShape: [8, 8, 1], dim: 4, seed: 1 })).rejects.toMatchObject({
      code: 'UNSUPPORTED',
    });
  });

  it('fine-tunes with --freeze: the frozen layers (moving statistics included) stay, until --unfreeze-after', async () => {
    const config = resolveTrainConfig({
      dataset: 'synthetic',
      backbone: file,
      dim: 4,
      seed: 2,
      lr: 1e-2,
      backend: 'cpu',
      freeze: 3,
      unfreezeAfter: 1,
    });
    expect(config.backboneOptions).toEqual({ featureLayer: '' });
    const engine = await createLocalEngine({ config, inputShape: [8, 8, 1], classes: 3 });
    const rng = new Random(4);
    const batch = (): EngineBatch => ({
      images: Float32Array.from({ length: 6 * 64 }, () => rng.nextFloat() * 2 - 1),
      labels: Int32Array.from({ length: 6 }, (_, i) => i % 3),
      size: 6,
    });
    const frozen = [
      'c1/kernel',
      'c1/bias',
      'bn1/gamma',
      'bn1/beta',
      'bn1/moving_mean',
      'bn1/moving_variance',
    ];
    try {
      await engine.beginEpoch(0);
      const start = byName(engine.model);
      expect((await engine.step(batch())).applied).toBe(true);
      const after = byName(engine.model);
      for (const name of frozen) expect(after[name]).toEqual(start[name]);
      expect(after['c2/kernel']).not.toEqual(start['c2/kernel']);
      expect(after['embedding/kernel']).not.toEqual(start['embedding/kernel']);
      await engine.beginEpoch(1);
      await engine.step(batch());
      const thawed = byName(engine.model);
      for (const name of frozen) expect(thawed[name]).not.toEqual(after[name]);
    } finally {
      await engine.dispose();
    }
  });
});
