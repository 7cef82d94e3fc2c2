import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readNpy } from '@anchorage/retrieval';
import * as tf from '@tensorflow/tfjs';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { writeIdxSplit } from '../data/idx-test-support';
import { l2NormalizeRowsInPlace } from '../losses';
import { createBackbone } from '../models';
import {
  CHECKPOINT_FORMAT_VERSION,
  modelSnapshot,
  optimizerSnapshot,
  saveCheckpoint,
} from '../train/checkpoint';
import { classMeans } from '../train/class-means';
import { DEFAULT_TRAIN_CONFIG, resolveTrainConfig } from '../train/config';
import { readBundle } from './bundle';
import { registerExportCommands } from './cli';
import { maxAbsDiff, onnxRuntimeWarnings, randomFloats, randomizeWeights } from './onnx-test-support';

const root = await mkdtemp(join(tmpdir(), 'anchorage-export-cli-'));
const COUNT = 13;
const mean = [0.5];
const std = [0.25];
let model: tf.LayersModel;
let images: Uint8Array;
let labels: Int32Array;
const anchors = randomFloats(10 * 8, 3);

beforeAll(async () => {
  await tf.setBackend('cpu');
  // a small MNIST-layout folder: 13 random 28×28 images
  images = Uint8Array.from(randomFloats(COUNT * 784, 1, 0, 256), Math.floor);
  labels = Int32Array.from({ length: COUNT }, (_, i) => i % 10);
  const data = join(root, 'mnist');
  for (const split of ['train', 'test'] as const) await writeIdxSplit(data, split, images, labels);

  model = randomizeWeights(createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 8, seed: 1 }), 2);
  // A checkpoint of format 1, when CAM was the only loss: its options sat in the config.
  const { loss: _loss, ...rest } = DEFAULT_TRAIN_CONFIG;
  const config = {
    ...rest,
    loss: 'cam',
    margin: 3,
    minNorm: 3,
    repellerWeight: 1,
    minNormWeight: 1,
    anchorInit: 'spread',
    anchorLr: 0.01,
    dataset: 'mnist',
    data,
    dim: 8,
    epochs: 1,
    normalization: { mean, std },
  };
  const state = {
    formatVersion: 1,
    config,
    dataset: { name: 'mnist', classes: 10, classNames: [...'0123456789'], trainSize: COUNT },
    input: { height: 28, width: 28, channels: 1, mean, std },
    dim: 8,
    progress: { epoch: 1, batchInEpoch: 0, step: 1, epochRngState: null, elapsedMs: 1234 },
    backend: 'cpu',
    savedAt: new Date(0).toISOString(),
  };
  const optimizer = await optimizerSnapshot(tf.train.adam());
  const modelSaved = await modelSnapshot(model);
  const dir = join(root, 'run', 'checkpoint');
  await mkdir(dir, { recursive: true });
  const rows = Array.from({ length: 10 }, (_, c) => Array.from(anchors.subarray(c * 8, (c + 1) * 8)));
  const optimizerEntry = {
    specs: optimizer.weights.specs,
    accBeta1: optimizer.accBeta1,
    accBeta2: optimizer.accBeta2,
  };
  await writeFile(
    join(dir, 'model.json'),
    JSON.stringify({
      modelTopology: modelSaved.topology,
      weightsManifest: [{ paths: ['weights.bin'], weights: modelSaved.weights.specs }],
    }),
  );
  await writeFile(join(dir, 'weights.bin'), new Uint8Array(modelSaved.weights.data));
  await writeFile(join(dir, 'anchors.json'), JSON.stringify({ dim: 8, anchors: rows }));
  await writeFile(
    join(dir, 'optimizer.json'),
    JSON.stringify({ model: optimizerEntry, anchors: optimizerEntry }),
  );
  await writeFile(join(dir, 'optimizer-model.bin'), new Uint8Array(optimizer.weights.data));
  await writeFile(join(dir, 'optimizer-anchors.bin'), new Uint8Array(optimizer.weights.data));
  await writeFile(join(dir, 'state.json'), JSON.stringify(state));
});
afterAll(() => rm(root, { recursive: true, force: true }));

async function run(...args: string[]): Promise<string> {
  const out: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    out.push(String(chunk));
    return true;
  });
  try {
    await registerExportCommands(new Command('anchorage-train').exitOverride()).parseAsync(args, {
      from: 'user',
    });
  } finally {
    spy.mockRestore();
  }
  return out.join('');
}

describe('anchorage-train export / embed', () => {
  it('export writes a bundle of a format-1 checkpoint whose model.onnx embeds raw pixels as tfjs does on normalised ones', async () => {
    await writeFile(join(root, 'metrics.json'), JSON.stringify({ mAP: 0.25 }));
    const bundle = join(root, 'bundle');
    const printed = await run(
      'export',
      '--checkpoint',
      join(root, 'run'),
      '--out',
      bundle,
      '--metrics',
      join(root, 'metrics.json'),
      '--json',
    );
    const { manifest, anchors: read, model: onnxBytes } = await readBundle(bundle);
    expect(JSON.parse(printed)).toEqual(manifest);
    expect(manifest).toMatchObject({
      formatVersion: 1,
      dim: 8,
      classes: [...'0123456789'],
      input: { height: 28, width: 28, channels: 1, mean, std, normalizedInGraph: true },
      loss: {
        name: 'cam',
        margin: 3,
        minNorm: 3,
        anchorInit: 'spread',
        embedding: 'raw',
        classAnchors: 'loss',
      },
      training: {
        dataset: 'mnist',
        backbone: 'refcnn',
        epochs: 1,
        steps: 1,
        wallTimeMs: 1234,
        seed: DEFAULT_TRAIN_CONFIG.seed,
      },
      metrics: { mAP: 0.25 },
    });
    expect(Array.from(read)).toEqual(Array.from(anchors));
    expect(await onnxRuntimeWarnings([onnxBytes!])).toBe('');

    const out = join(root, 'train.npy');
    const summary = JSON.parse(
      await run(
        'embed',
        '--bundle',
        bundle,
        '--dataset',
        'mnist',
        '--data',
        join(root, 'mnist'),
        '--out',
        out,
        '--batch-size',
        '5',
        '--json',
      ),
    );
    expect(summary).toMatchObject({
      count: COUNT,
      dim: 8,
      vectorsPath: out,
      labelsPath: join(root, 'train.labels.npy'),
    });
    const vectors = await readNpy(out);
    expect(vectors.dtype).toBe('<f4');
    expect(vectors.shape).toEqual([COUNT, 8]);
    const readLabels = await readNpy(join(root, 'train.labels.npy'));
    expect(readLabels.dtype).toBe('<i4');
    expect(Array.from(readLabels.data as Int32Array)).toEqual(Array.from(labels));

    const normalised = Float32Array.from(images, (p) => (p / 255 - mean[0]!) / std[0]!);
    const expected = tf.tidy(() =>
      (model.predict(tf.tensor(normalised, [COUNT, 28, 28, 1])) as tf.Tensor).dataSync(),
    );
    expect(maxAbsDiff(expected, vectors.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('a float32-input export embeds the same vectors', async () => {
    const bundle = join(root, 'bundle-f32');
    await run('export', '--checkpoint', join(root, 'run'), '--out', bundle, '--input-type', 'float32');
    const out = join(root, 'f32.npy');
    await run(
      'embed',
      '--bundle',
      bundle,
      '--dataset',
      'mnist',
      '--data',
      join(root, 'mnist'),
      '--split',
      'test',
      '--out',
      out,
    );
    const uint8 = await readNpy(join(root, 'train.npy'));
    expect(maxAbsDiff((await readNpy(out)).data as Float32Array, uint8.data as Float32Array)).toBeLessThan(
      1e-5,
    );
  });

  it('a loss on normalised embeddings without anchors: model.onnx normalises, anchors are class means', async () => {
    // A format-2 checkpoint of a triplet run stopped before its class means were computed.
    const config = resolveTrainConfig({
      dataset: 'mnist',
      data: join(root, 'mnist'),
      loss: 'triplet',
      dim: 8,
      normalization: { mean, std },
    });
    const optimizer = await optimizerSnapshot(tf.train.adam());
    const runDir = join(root, 'triplet-run');
    await saveCheckpoint(
      join(runDir, 'checkpoint'),
      {
        model: await modelSnapshot(model),
        loss: { specs: [], data: new ArrayBuffer(0) },
        optimizers: { model: optimizer, loss: optimizer },
      },
      {
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        config,
        dataset: { name: 'mnist', classes: 10, classNames: [...'0123456789'], trainSize: COUNT },
        input: { height: 28, width: 28, channels: 1, mean, std },
        dim: 8,
        embedding: 'l2-normalized',
        classAnchors: 'class-means',
        progress: { epoch: 0, batchInEpoch: 1, step: 1, epochRngState: null, elapsedMs: 10 },
        backend: 'cpu',
        savedAt: new Date(0).toISOString(),
      },
    );
    const bundle = join(root, 'bundle-triplet');
    await run('export', '--checkpoint', runDir, '--out', bundle);
    const { manifest, anchors: read } = await readBundle(bundle);
    expect(manifest.loss).toMatchObject({ name: 'triplet', margin: 0.2, embedding: 'l2-normalized' });

    const normalised = Float32Array.from(images, (p) => (p / 255 - mean[0]!) / std[0]!);
    const expected = l2NormalizeRowsInPlace(
      tf.tidy(
        () =>
          (model.predict(tf.tensor(normalised, [COUNT, 28, 28, 1])) as tf.Tensor).dataSync() as Float32Array,
      ),
      8,
    );
    expect(maxAbsDiff(read, classMeans(expected, labels, 10, 8))).toBeLessThan(1e-5);
    const out = join(root, 'triplet.npy');
    await run('embed', '--bundle', bundle, '--dataset', 'mnist', '--data', join(root, 'mnist'), '--out', out);
    expect(maxAbsDiff((await readNpy(out)).data as Float32Array, expected)).toBeLessThan(1e-4);
  });

  it('reports a missing checkpoint and a bundle without model.onnx as one error line', async () => {
    const errors: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      errors.push(String(chunk));
      return true;
    });
    try {
      await run('export', '--checkpoint', join(root, 'nowhere'), '--out', join(root, 'x'));
      await rm(join(root, 'bundle-f32', 'model.onnx'));
      await run(
        'embed',
        '--bundle',
        join(root, 'bundle-f32'),
        '--dataset',
        'mnist',
        '--out',
        join(root, 'y.npy'),
      );
    } finally {
      spy.mockRestore();
      process.exitCode = 0;
    }
    expect(errors[0]).toMatch(/^error: no checkpoint/);
    expect(errors[1]).toMatch(/^error: bundle .* has no model\.onnx/);
  });
});
