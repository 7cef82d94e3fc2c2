import { cp, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointState,
  loadCheckpoint,
  modelFromSnapshot,
  modelSnapshot,
  optimizerSnapshot,
  resolveCheckpointDir,
  restoreOptimizer,
  saveCheckpoint,
  type TensorBundle,
  type TrainingSnapshot,
} from './checkpoint';
import { resolveTrainConfig } from './config';

const root = await mkdtemp(join(tmpdir(), 'anchorage-checkpoint-'));
afterAll(() => rm(root, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

function state(step: number): CheckpointState {
  return {
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    config: resolveTrainConfig({ dataset: 'synthetic', dim: 3 }),
    dataset: { name: 'synthetic', classes: 2, classNames: ['a', 'b'], trainSize: 4 },
    input: { height: 1, width: 4, channels: 1, mean: [0.5], std: [0.5] },
    dim: 3,
    embedding: 'raw',
    classAnchors: 'loss',
    progress: { epoch: 0, batchInEpoch: step, step, epochRngState: null, elapsedMs: 0 },
    backend: 'cpu',
    savedAt: new Date(0).toISOString(),
  };
}

async function lossBundle(tensors: tf.NamedTensorMap): Promise<TensorBundle> {
  const encoded = await tf.io.encodeWeights(tensors);
  tf.dispose(Object.values(tensors));
  return { specs: encoded.specs, data: encoded.data };
}

/** A dense model and an Adam optimiser that has taken two steps, as plain snapshot data. */
async function trainedSnapshot(): Promise<{
  snapshot: TrainingSnapshot;
  model: tf.LayersModel;
  optimizer: tf.Optimizer;
}> {
  const model = tf.sequential({
    layers: [
      tf.layers.dense({
        inputShape: [4],
        units: 3,
        kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }),
      }),
    ],
  });
  const optimizer = tf.train.adam(0.1);
  const x = tf.tensor2d([1, 2, 3, 4, 0, 1, 0, 1], [2, 4]);
  for (let i = 0; i < 2; i++)
    optimizer.minimize(() => tf.sum(tf.square(model.apply(x) as tf.Tensor)) as tf.Scalar);
  x.dispose();
  const snapshot: TrainingSnapshot = {
    model: await modelSnapshot(model),
    loss: await lossBundle({ anchors: tf.tensor2d([0.1, -0.2, 0.3, 1 / 3, 2 / 3, 1e-7], [2, 3]) }),
    optimizers: {
      model: await optimizerSnapshot(optimizer),
      loss: await optimizerSnapshot(tf.train.adam(0.1)),
    },
    classAnchors: Float32Array.from([0.1, -0.2, 0.3, 1 / 3, 2 / 3, 1e-7]),
  };
  return { snapshot, model, optimizer };
}

describe('checkpoints', () => {
  it('round-trip the model, the loss variables and class anchors exactly, and the optimiser including its β powers', async () => {
    const { snapshot, model, optimizer } = await trainedSnapshot();
    const dir = join(root, 'run', 'checkpoint');
    await saveCheckpoint(dir, snapshot, state(2));
    const loaded = await loadCheckpoint(join(root, 'run'));
    expect(loaded.state.progress.step).toBe(2);
    expect(loaded.snapshot.classAnchors).toEqual(snapshot.classAnchors);
    expect(loaded.snapshot.loss.specs).toEqual(snapshot.loss.specs);
    expect(new Uint8Array(loaded.snapshot.loss.data)).toEqual(new Uint8Array(snapshot.loss.data));
    const restored = await modelFromSnapshot(loaded.snapshot.model);
    const probe = tf.tensor2d([0.5, -1, 2, 0], [1, 4]);
    expect((restored.predict(probe) as tf.Tensor).dataSync()).toEqual(
      (model.predict(probe) as tf.Tensor).dataSync(),
    );
    // model.json is plain tfjs layers format
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8'));
    expect(modelJson.weightsManifest[0].paths).toEqual(['weights.bin']);

    const fresh = tf.train.adam(0.1);
    await restoreOptimizer(fresh, loaded.snapshot.optimizers.model);
    const again = await optimizerSnapshot(fresh);
    expect(again.accBeta1).toBe(snapshot.optimizers.model.accBeta1);
    expect(again.accBeta2).toBe(snapshot.optimizers.model.accBeta2);
    // The β powers after two steps are products, which pow(β, t) would not reproduce bit for bit.
    expect(again.accBeta1).toBe(
      Math.fround(Math.fround(Math.fround(0.9) * Math.fround(0.9)) * Math.fround(0.9)),
    );
    expect(new Uint8Array(again.weights.data)).toEqual(
      new Uint8Array(snapshot.optimizers.model.weights.data),
    );
    tf.dispose(probe);
    optimizer.dispose();
    fresh.dispose();
  });

  it('replaces the previous checkpoint and finds the old one left by a crash between renames', async () => {
    const { snapshot } = await trainedSnapshot();
    const run = join(root, 'crash');
    const dir = join(run, 'checkpoint');
    await saveCheckpoint(dir, snapshot, state(1));
    await saveCheckpoint(dir, snapshot, state(5));
    expect((await loadCheckpoint(run)).state.progress.step).toBe(5);
    await rename(dir, join(run, 'checkpoint.old-4242'));
    expect(await resolveCheckpointDir(run)).toBe(join(run, 'checkpoint.old-4242'));
    expect((await loadCheckpoint(run)).state.progress.step).toBe(5);
    expect(await resolveCheckpointDir(join(root, 'nothing'))).toBeUndefined();
  });

  it('resumes from the newest complete copy among checkpoint/ and the leftovers of killed saves, and the next save removes them', async () => {
    const { snapshot } = await trainedSnapshot();
    const run = join(root, 'leftovers');
    const dir = join(run, 'checkpoint');
    // older leftovers first: an old- folder of step 2, then checkpoint/ at step 3
    await saveCheckpoint(dir, snapshot, state(2));
    await cp(dir, join(run, 'checkpoint.old-111'), { recursive: true });
    await saveCheckpoint(dir, snapshot, state(3));
    expect(await readdir(run)).toEqual(['checkpoint']); // the save removed the leftover
    await cp(dir, join(run, 'checkpoint.old-111'), { recursive: true });
    await saveCheckpoint(join(root, 'scratch', 'checkpoint'), snapshot, state(7));
    // a save killed after its state.json: a complete tmp folder with a newer step than checkpoint/
    await cp(join(root, 'scratch', 'checkpoint'), join(run, 'checkpoint.tmp-222'), { recursive: true });
    // a save killed before its state.json: incomplete, however new
    await cp(join(root, 'scratch', 'checkpoint'), join(run, 'checkpoint.tmp-333'), { recursive: true });
    await rm(join(run, 'checkpoint.tmp-333', 'state.json'));
    // a save killed while writing state.json: unreadable
    await cp(join(root, 'scratch', 'checkpoint'), join(run, 'checkpoint.tmp-444'), { recursive: true });
    await writeFile(join(run, 'checkpoint.tmp-444', 'state.json'), '{"formatVersion": 2, "progr');
    expect(await resolveCheckpointDir(run)).toBe(join(run, 'checkpoint.tmp-222'));
    expect((await loadCheckpoint(run)).state.progress.step).toBe(7);
    await rm(join(run, 'checkpoint.tmp-222'), { recursive: true });
    expect(await resolveCheckpointDir(run)).toBe(dir); // step 3 beats old-111's step 3 on the tie
    await saveCheckpoint(dir, snapshot, state(8));
    expect((await readdir(run)).sort()).toEqual(['checkpoint']);
    expect((await loadCheckpoint(run)).state.progress.step).toBe(8);
  });

  it('refuses missing, corrupt and future checkpoints with typed errors', async () => {
    const { snapshot } = await trainedSnapshot();
    await expect(loadCheckpoint(join(root, 'absent'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
    const dir = join(root, 'bad', 'checkpoint');
    await saveCheckpoint(dir, snapshot, { ...state(1), formatVersion: 99 });
    await expect(loadCheckpoint(dir)).rejects.toMatchObject({ code: 'UNSUPPORTED_VERSION' });
    await saveCheckpoint(dir, snapshot, state(1));
    await writeFile(join(dir, 'loss.json'), '{"specs": [');
    const error = await loadCheckpoint(dir).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AnchorageError);
    expect(error).toMatchObject({ code: 'CORRUPT_FILE' });
  });
});
