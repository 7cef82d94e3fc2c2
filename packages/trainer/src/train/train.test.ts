import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { fashionMnistDir } from '@anchorage/loss-core/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCheckpoint } from './checkpoint';
import type { TrainConfigInput } from './config';
import { train } from './train';

// Fashion-MNIST from $FASHION_MNIST_DIR or Debian's package; CI requires it (ANCHORAGE_REQUIRE_FIXTURES)
const hasData = fashionMnistDir() !== undefined;
const root = await mkdtemp(join(tmpdir(), 'anchorage-train-'));
afterAll(() => rm(root, { recursive: true, force: true }));

/** Bytes of everything trainable in a run's checkpoint: weights, loss variables, class anchors and both optimisers. */
async function trainedBytes(out: string): Promise<Record<string, Buffer>> {
  const dir = join(out, 'checkpoint');
  const names = ['weights.bin', 'loss.bin', 'anchors.json', 'optimizer-model.bin', 'optimizer-loss.bin'];
  const files = await Promise.all(names.map((name) => readFile(join(dir, name))));
  // optimizer.json names Adam's slots after the model's variables, whose numeric suffixes depend on
  // how many models the process built before; the slot values and β powers are what must match.
  const optimizer = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8'));
  const betas = ['model', 'loss'].map((k) => [optimizer[k].accBeta1, optimizer[k].accBeta2]);
  return {
    ...Object.fromEntries(names.map((name, i) => [name, files[i]!])),
    betas: Buffer.from(JSON.stringify(betas)),
  };
}

// A tiny slice of the real Fashion-MNIST: 10 images, batches of 4 (the last one 2), 3 steps an epoch.
const tiny = (backend: string): TrainConfigInput => ({
  dataset: 'fashion-mnist',
  limit: 10,
  batchSize: 4,
  epochs: 2,
  dim: 8,
  seed: 5,
  backend,
});

describe.skipIf(!hasData).each(['cpu', 'wasm'])('train on %s', (backend) => {
  it('resumes a run stopped mid-epoch to exactly the weights of an uninterrupted run', async () => {
    const straight = join(root, `${backend}-straight`);
    const full = await train(tiny(backend), { out: straight, quiet: true });
    expect(full.status).toBe('completed');
    expect(full.progress).toMatchObject({ epoch: 2, step: 6, batchInEpoch: 0 });

    const stopped = join(root, `${backend}-stopped`);
    const controller = new AbortController();
    const first = await train(tiny(backend), {
      out: stopped,
      quiet: true,
      signal: controller.signal,
      onStep: (event) => {
        if (event.step === 4) controller.abort(); // second epoch, after its first batch
      },
    });
    expect(first.status).toBe('stopped');
    expect(first.progress).toMatchObject({ epoch: 1, step: 4, batchInEpoch: 1 });
    const { state } = await loadCheckpoint(stopped);
    expect(state.progress.step).toBe(4);

    const resumed = await train({ dataset: 'fashion-mnist' }, { out: stopped, resume: true, quiet: true });
    expect(resumed.status).toBe('completed');
    expect(resumed.progress.step).toBe(6);
    const a = await trainedBytes(straight);
    const b = await trainedBytes(stopped);
    for (const name of Object.keys(a)) expect(b[name]!.equals(a[name]!), name).toBe(true);

    const log = (await readFile(join(stopped, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.filter((e) => e.type === 'step').map((e) => e.step)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(log.filter((e) => e.type === 'start').map((e) => e.resumed)).toEqual([false, true]);
  });
});

describe.skipIf(!hasData)('train', () => {
  it('stops on a non-finite loss with a clear error and keeps the last good checkpoint', async () => {
    const out = join(root, 'diverging');
    await train({ ...tiny('wasm'), epochs: 1 }, { out, quiet: true });
    const good = await trainedBytes(out);
    // An absurd learning rate blows the weights up within a few steps.
    const failure = await train(
      { dataset: 'fashion-mnist', epochs: 3, lr: 1e12 },
      { out, resume: true, quiet: true },
    ).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(failure).toBeInstanceOf(AnchorageError);
    expect((failure as AnchorageError).code).toBe('NON_FINITE');
    expect((failure as AnchorageError).message).toMatch(/last good checkpoint is kept/);
    const after = await trainedBytes(out);
    for (const name of Object.keys(good)) expect(after[name]!.equals(good[name]!), name).toBe(true);
    const { state } = await loadCheckpoint(out);
    expect(state.progress).toMatchObject({ epoch: 1, step: 3 });
    const log = (await readFile(join(out, 'metrics.jsonl'), 'utf8'))
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(log.at(-1)).toMatchObject({ type: 'error', code: 'NON_FINITE' });
  });

  it('trains an in-batch loss on two workers and records the class means as its class anchors', async () => {
    const out = join(root, 'triplet');
    const result = await train(
      { ...tiny('wasm'), loss: 'triplet', workers: 2, epochs: 1 },
      { out, quiet: true },
    );
    expect(result.status).toBe('completed');
    expect(Object.keys(result.lastTerms!).sort()).toEqual(['hardNegative', 'hardPositive', 'loss']);
    const { snapshot, state } = await loadCheckpoint(out);
    expect(state).toMatchObject({ embedding: 'l2-normalized', classAnchors: 'class-means' });
    expect(state.config).toMatchObject({ loss: 'triplet', lossOptions: { margin: 0.2 } });
    const anchors = snapshot.classAnchors!;
    expect(anchors).toHaveLength(10 * 8);
    // Means of unit vectors: norm at most 1, and 0 for classes the 10 images do not contain.
    for (let c = 0; c < 10; c++) {
      const norm = Math.hypot(...anchors.subarray(c * 8, (c + 1) * 8));
      expect(norm).toBeLessThanOrEqual(1 + 1e-6);
    }
  });

  it('refuses to overwrite an existing run without resume', async () => {
    const out = join(root, 'existing');
    await train({ ...tiny('wasm'), epochs: 1 }, { out, quiet: true });
    await expect(train(tiny('wasm'), { out, quiet: true })).rejects.toThrow(AnchorageError);
  });
});
