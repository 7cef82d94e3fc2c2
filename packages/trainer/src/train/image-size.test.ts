import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistDir } from '@anchorage/loss-core/testing';
import { readNpy } from '@anchorage/retrieval';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { convertDataset, loadDataset, targetGeometry } from '../data';
import { writeIdxSlice } from '../data/idx-test-support';
import { embedDataset } from '../export/embed';
import { exportCheckpointBundle } from '../export/export-model';
import { loadCheckpoint } from './checkpoint';
import { evaluateCheckpoint, loadCheckpointModel, retrievalEmbeddings } from './evaluate';
import { train } from './train';

// Fashion-MNIST from $FASHION_MNIST_DIR or Debian's package; CI requires it (ANCHORAGE_REQUIRE_FIXTURES)
const hasData = fashionMnistDir() !== undefined;
const root = await mkdtemp(join(tmpdir(), 'anchorage-image-size-'));
const data = join(root, 'fashion-mnist');
afterAll(() => rm(root, { recursive: true, force: true }));

/** A Fashion-MNIST folder cut from the real one: 96 training and 24 test images. */
beforeAll(async () => {
  if (hasData) await writeIdxSlice({ name: 'fashion-mnist', out: data, train: 96, test: 24 });
});

describe.skipIf(!hasData)('--image-size and --channels on an IDX dataset', () => {
  it('train, eval, export and embed all see Fashion-MNIST padded to 32×32×3', async () => {
    const out = join(root, 'run');
    const config = {
      dataset: 'fashion-mnist',
      data,
      epochs: 1,
      batchSize: 32,
      dim: 8,
      seed: 2,
      backend: 'wasm',
      imageSize: 32,
      channels: 3,
      fit: 'pad' as const,
    };
    const result = await train(config, { out, quiet: true });
    expect(result.status).toBe('completed');
    const { state } = await loadCheckpoint(out);
    expect(state.input).toEqual({ height: 32, width: 32, channels: 3, mean: [0.5], std: [0.5], fit: 'pad' });
    expect(state.config).toMatchObject({ imageSize: 32, channels: 3, fit: 'pad' });

    const report = await evaluateCheckpoint({ checkpoint: out, probes: [1] });
    expect(report).toMatchObject({ databaseSize: 96, querySize: 24, dim: 8 });
    expect(report.mAP).toBeGreaterThan(0);

    const bundle = join(root, 'bundle');
    const manifest = await exportCheckpointBundle(out, bundle);
    expect(manifest.input).toMatchObject({ height: 32, width: 32, channels: 3, fit: 'pad' });

    // the bundle embeds the split converted the same way as tfjs did from the checkpoint
    const vectorsPath = join(root, 'train.npy');
    await embedDataset({ bundle, dataset: 'fashion-mnist', data, out: vectorsPath });
    const onnx = (await readNpy(vectorsPath)).data as Float32Array;
    const raw = await loadDataset({ name: 'fashion-mnist', dir: data, split: 'train' });
    const padded = await convertDataset(raw, targetGeometry(raw, { imageSize: 32, channels: 3, fit: 'pad' }));
    expect(padded.images[(0 * 32 + 0) * 3]).toBe(0);
    expect(padded.images[(5 * 32 + 7) * 3 + 2]).toBe(raw.images[3 * 28 + 5]);
    const { model } = await loadCheckpointModel(out);
    const tfjs = await retrievalEmbeddings(model, padded, state);
    model.dispose();
    expect(onnx.length).toBe(tfjs.length);
    let worst = 0;
    for (let i = 0; i < tfjs.length; i++) worst = Math.max(worst, Math.abs(onnx[i]! - tfjs[i]!));
    expect(worst).toBeLessThan(1e-4);
    expect(JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')).input.fit).toBe('pad');
  });

  it('--augment resized-crop-flip: a run stopped mid-epoch and resumed ends on the uninterrupted weights', async () => {
    const config = {
      dataset: 'fashion-mnist',
      data,
      epochs: 2,
      batchSize: 32,
      dim: 8,
      seed: 6,
      backend: 'wasm',
      augment: 'resized-crop-flip' as const,
    };
    const straight = join(root, 'augment-straight');
    await train(config, { out: straight, quiet: true });
    const stopped = join(root, 'augment-stopped');
    const controller = new AbortController();
    const first = await train(config, {
      out: stopped,
      quiet: true,
      signal: controller.signal,
      onStep: (event) => {
        if (event.step === 4) controller.abort(); // second epoch, after its first batch
      },
    });
    expect(first.progress).toMatchObject({ epoch: 1, batchInEpoch: 1 });
    await train({ dataset: 'fashion-mnist' }, { out: stopped, resume: true, quiet: true });
    const weights = await Promise.all(
      [straight, stopped].map((r) => readFile(join(r, 'checkpoint', 'weights.bin'))),
    );
    expect(weights[1]!.equals(weights[0]!)).toBe(true);
    // the augmentation changed what was learnt
    const plain = join(root, 'augment-none');
    await train({ ...config, augment: 'none' }, { out: plain, quiet: true });
    expect((await readFile(join(plain, 'checkpoint', 'weights.bin'))).equals(weights[0]!)).toBe(false);
  });
});
