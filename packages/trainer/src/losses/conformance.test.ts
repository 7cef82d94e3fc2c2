import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import '@tensorflow/tfjs-backend-wasm';
import { Random } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { selectBackend } from '../backends';
import { withTwinEngines } from '../parallel/twin-engines-test-support';
import { firstStepGradient } from '../train/adam-test-support';
import { CHECKPOINT_FORMAT_VERSION, loadCheckpoint, saveCheckpoint } from '../train/checkpoint';
import { resolveTrainConfig } from '../train/config';
import type { EngineBatch } from '../train/engine';
import { createLocalEngine, lossVariablesSnapshot, restoreLossVariables } from '../train/local-engine';
import type { TrainableLoss } from './loss';
import { l2NormalizeRowsInPlace } from './normalize';
import { finiteDifferences, REFERENCE_LOSSES, type ReferenceInput } from './reference-test-support';
import { createLoss, getLossFactory, listLosses } from './registry';

// Every registered loss passes the same checks; a loss registered without a float64 reference
// fails the first one.

const C = 4;
const D = 5;

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]!));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The batches of the edge cases: labels and the scale of the embeddings' norms. */
const CASES: { name: string; labels: number[]; scale: number }[] = [
  // class 3 absent, class 2 a singleton
  { name: 'an absent class and a singleton', labels: [0, 0, 1, 1, 1, 2, 0, 1], scale: 0.7 },
  { name: 'a batch of one class', labels: [1, 1, 1, 1, 1], scale: 0.7 },
  { name: 'singleton classes only', labels: [0, 1, 2, 3], scale: 0.7 },
  { name: 'embeddings of norm about 10', labels: [0, 1, 2, 3, 0, 1, 2, 3], scale: 4.5 },
];

/** Gives every loss variable seeded random values, so that every term of every loss is active. */
function randomizeVariables(loss: TrainableLoss, seed: number): void {
  const rng = new Random(seed);
  for (const v of Object.values(loss.variables)) {
    tf.tidy(() =>
      v.assign(
        tf.tensor(
          Float32Array.from({ length: v.size }, () => 1.5 * rng.normal()),
          v.shape,
        ),
      ),
    );
  }
}

async function variableValues(loss: TrainableLoss): Promise<Record<string, Float64Array>> {
  const out: Record<string, Float64Array> = {};
  for (const [name, v] of Object.entries(loss.variables)) out[name] = Float64Array.from(await v.data());
  return out;
}

beforeAll(async () => {
  await tf.setBackend('cpu');
});

describe.each(listLosses())('loss %s', (name) => {
  it.each(CASES)('value and gradients equal a float64 computation: $name', async ({ labels, scale }) => {
    const reference = REFERENCE_LOSSES[name];
    expect(reference, `no float64 reference for loss ${name}`).toBeDefined();
    const loss = createLoss(name, { classes: C, dim: D, seed: 2 });
    randomizeVariables(loss, 3);
    const rng = new Random(4);
    const e = Float32Array.from({ length: labels.length * D }, () => scale * rng.normal());
    const y = Int32Array.from(labels);

    const eVar = tf.tidy(() => tf.variable(tf.tensor2d(e, [labels.length, D]))) as tf.Variable<tf.Rank.R2>;
    const yT = tf.tensor1d(y, 'int32');
    const trainables = Object.entries(loss.variables).filter(([, v]) => v.trainable);
    const { value, grads } = tf.variableGrads(
      () => loss.compute(eVar, yT).loss,
      [eVar, ...trainables.map(([, v]) => v)],
    );

    const input: ReferenceInput = {
      embeddings: Float64Array.from(e),
      labels: y,
      classes: C,
      dim: D,
      variables: await variableValues(loss),
      options: loss.options as Record<string, number | string>,
    };
    const f = () => reference!(input);
    const expected = f();
    expect(Math.abs((await value.data())[0]! - expected)).toBeLessThan(
      1e-4 * Math.max(1, Math.abs(expected)),
    );
    const check = async (got: tf.Tensor | undefined, x: Float64Array, what: string) => {
      const fd = finiteDifferences(f, x);
      const ours = got ? await got.data() : new Float32Array(x.length);
      const scaleOf = Math.max(maxAbs(fd), 1e-2);
      expect(maxAbsDiff(ours, fd) / scaleOf, what).toBeLessThan(2e-3);
    };
    await check(grads[eVar.name], input.embeddings, 'embeddings');
    for (const [key, v] of trainables) await check(grads[v.name], input.variables[key]!, key);
    tf.dispose([value, ...Object.values(grads), eVar, yT]);
    loss.dispose();
  });

  it('leaks no tensors: create, compute, differentiate, afterStep, classAnchors, dispose', async () => {
    const before = tf.memory().numTensors;
    const loss = createLoss(name, { classes: C, dim: D, seed: 1 });
    const e = tf.tidy(() =>
      tf.variable(tf.randomNormal([6, D], 0, 1, 'float32', 1)),
    ) as tf.Variable<tf.Rank.R2>;
    const y = tf.tensor1d([0, 1, 1, 2, 0, 0], 'int32');
    const trainables = Object.values(loss.variables).filter((v) => v.trainable);
    for (let i = 0; i < 3; i++) {
      const { value, grads } = tf.variableGrads(() => loss.compute(e, y).loss, [e, ...trainables]);
      tf.dispose([value, ...Object.values(grads)]);
      tf.dispose(
        tf.tidy(() => {
          const { loss: l, terms } = loss.compute(e, y);
          return [l, ...Object.values(terms)];
        }),
      );
      if (loss.afterStep) tf.tidy(() => loss.afterStep!(e, y));
      await loss.classAnchors();
    }
    tf.dispose([e, y]);
    loss.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('saves and restores every variable bit for bit', async () => {
    const a = createLoss(name, { classes: C, dim: D, seed: 1 });
    randomizeVariables(a, 9);
    const b = createLoss(name, { classes: C, dim: D, seed: 2 });
    restoreLossVariables(b, await lossVariablesSnapshot(a));
    const [va, vb] = [await variableValues(a), await variableValues(b)];
    for (const key of Object.keys(va)) expect(Array.from(vb[key]!), key).toEqual(Array.from(va[key]!));
    const anchors = await a.classAnchors();
    if (anchors) expect(Array.from((await b.classAnchors())!)).toEqual(Array.from(anchors));
    a.dispose();
    b.dispose();
  });

  it('separates the two classes of a tiny problem while its loss decreases', async () => {
    // Class information sits in one input feature of small variance; five others are noise of
    // larger variance, so a random linear map mixes the classes and training has to find it.
    const rng = new Random(11);
    const B = 24;
    const F = 6;
    const y = Int32Array.from({ length: B }, (_, i) => i % 2);
    const x = Float32Array.from({ length: B * F }, (_, k) =>
      k % F === 0 ? (y[Math.floor(k / F)]! * 2 - 1) * 1.5 + 0.3 * rng.normal() : 2 * rng.normal(),
    );
    const loss = createLoss(name, { classes: 2, dim: 3, seed: 1 });
    const X = tf.tensor2d(x, [B, F]);
    const Y = tf.tensor1d(y, 'int32');
    const W = tf.tidy(() =>
      tf.variable(
        tf.tensor2d(
          Float32Array.from({ length: F * 3 }, () => rng.normal()),
          [F, 3],
        ),
      ),
    );
    const trainables = Object.values(loss.variables).filter((v) => v.trainable);
    const optimizer = tf.train.adam(0.05);
    const lossOptimizer = tf.train.adam(0.05 * getLossFactory(name).lrScale);
    const values: number[] = [];
    for (let step = 0; step < 150; step++) {
      const { value, grads } = tf.variableGrads(
        () => loss.compute(tf.matMul(X, W) as tf.Tensor2D, Y).loss,
        [W, ...trainables],
      );
      values.push((await value.data())[0]!);
      optimizer.applyGradients([{ name: W.name, tensor: grads[W.name]! }]);
      if (trainables.length > 0) {
        lossOptimizer.applyGradients(trainables.map((v) => ({ name: v.name, tensor: grads[v.name]! })));
      }
      if (loss.afterStep) tf.tidy(() => loss.afterStep!(tf.matMul(X, W) as tf.Tensor2D, Y));
      tf.dispose([value, ...Object.values(grads)]);
    }
    expect(values.at(-1)!).toBeLessThan(values[0]!);
    // Separated: every item is nearer its own class's mean than the other's (in the retrieval space).
    const e = tf.matMul(X, W);
    const vectors = (await e.data()) as Float32Array;
    if (loss.embedding === 'l2-normalized') l2NormalizeRowsInPlace(vectors, 3);
    const means = [0, 1].map((c) => {
      const m = [0, 0, 0];
      for (let i = c; i < B; i += 2) for (let k = 0; k < 3; k++) m[k]! += vectors[i * 3 + k]! / (B / 2);
      return m;
    });
    const dist = (i: number, m: number[]) => m.reduce((s, v, k) => s + (vectors[i * 3 + k]! - v) ** 2, 0);
    for (let i = 0; i < B; i++)
      expect(dist(i, means[y[i]!]!), `item ${i}`).toBeLessThan(dist(i, means[1 - y[i]!]!));
    tf.dispose([X, Y, W, e]);
    optimizer.dispose();
    lossOptimizer.dispose();
    loss.dispose();
  });
});

describe('center loss afterStep', () => {
  it('moves each centre by α·Σ_{y_i = j}(c_j − e_i)/(1 + n_j)', async () => {
    const loss = createLoss('center', { classes: C, dim: D, seed: 1, centerRate: 0.3 });
    randomizeVariables(loss, 5);
    const before = Float64Array.from(await loss.variables.centers!.data());
    const rng = new Random(6);
    const labels = [0, 2, 2, 0, 2, 1];
    const e = Float32Array.from({ length: labels.length * D }, () => rng.normal());
    tf.tidy(() => loss.afterStep!(tf.tensor2d(e, [labels.length, D]), tf.tensor1d(labels, 'int32')));
    const after = await loss.variables.centers!.data();
    const expected = Float64Array.from(before);
    for (let j = 0; j < C; j++) {
      const members = labels.flatMap((l, i) => (l === j ? [i] : []));
      for (let k = 0; k < D; k++) {
        let sum = 0;
        for (const i of members) sum += before[j * D + k]! - e[i * D + k]!;
        expected[j * D + k] = before[j * D + k]! - (0.3 * sum) / (1 + members.length);
      }
    }
    expect(maxAbsDiff(after, expected)).toBeLessThan(1e-6);
    // class 3 is absent: its centre does not move
    expect(Array.from(after.subarray(3 * D))).toEqual(Array.from(Float32Array.from(before.subarray(3 * D))));
    loss.dispose();
  });
});

describe.each(listLosses())('training engines with %s', (name) => {
  const inputShape: [number, number, number] = [8, 8, 1];
  const classes = 3;
  const config = resolveTrainConfig({ dataset: 'synthetic', dim: 4, seed: 3, loss: name, backend: 'wasm' });

  function batch(seed: number, size: number): EngineBatch {
    const rng = new Random(seed);
    return {
      images: Float32Array.from({ length: size * 64 }, () => rng.nextFloat() * 2 - 1),
      labels: Int32Array.from({ length: size }, (_, i) => (i * 7 + seed) % 2), // class 2 absent
      size,
    };
  }
  const copy = (b: EngineBatch): EngineBatch => ({
    images: b.images.slice(),
    labels: b.labels.slice(),
    size: b.size,
  });

  it('two workers compute and apply the one-thread gradient to 1e-5 and stay identical after the step', async () => {
    await withTwinEngines({ config, inputShape, classes }, async (parallel, local) => {
      const b = batch(1, 7); // shards of 4 and 3
      const [p, l] = [await parallel.gradients(copy(b)), await local.gradients(copy(b))];
      for (const [term, value] of Object.entries(l.terms)) {
        expect(Math.abs(p.terms[term]! - value), term).toBeLessThan(1e-5 * Math.max(1, Math.abs(value)));
      }
      const scale = Math.max(maxAbs(l.values!), 1e-3);
      expect(maxAbsDiff(p.values!, l.values!) / scale).toBeLessThan(1e-5);
      expect((await parallel.step(copy(b))).applied).toBe(true);
      // what the step applied (read back from the optimisers' state), not only what it computed
      expect(maxAbsDiff(firstStepGradient(await parallel.snapshot()), l.values!) / scale).toBeLessThan(1e-5);
      const [w0, w1] = await parallel.weights();
      expect(maxAbsDiff(w0!, w1!)).toBe(0);
    });
  });

  it('a run resumed from its checkpoint continues bit for bit', async () => {
    await selectBackend('wasm', { log: () => {} });
    const batches = [batch(2, 6), batch(3, 6), batch(4, 5)];
    const straight = await createLocalEngine({ config, inputShape, classes });
    const first = await createLocalEngine({
      config,
      inputShape,
      classes,
      snapshot: await straight.snapshot(),
    });
    const dir = await mkdtemp(join(tmpdir(), 'anchorage-loss-resume-'));
    try {
      for (const b of batches) await straight.step(copy(b));
      await first.step(copy(batches[0]!));
      const state = {
        formatVersion: CHECKPOINT_FORMAT_VERSION,
        config,
        dataset: { name: 'synthetic', classes, classNames: ['a', 'b', 'c'], trainSize: 17 },
        input: { height: 8, width: 8, channels: 1, mean: [0], std: [1] },
        dim: config.dim,
        embedding: first.embedding,
        classAnchors: first.classAnchors,
        progress: { epoch: 0, batchInEpoch: 1, step: 1, epochRngState: null, elapsedMs: 0 },
        backend: 'wasm',
        savedAt: new Date(0).toISOString(),
      };
      await saveCheckpoint(join(dir, 'checkpoint'), await first.snapshot(), state);
      const resumed = await createLocalEngine({
        config,
        inputShape,
        classes,
        snapshot: (await loadCheckpoint(dir)).snapshot,
      });
      try {
        for (const b of batches.slice(1)) await resumed.step(copy(b));
        expect(Array.from(await resumed.weights())).toEqual(Array.from(await straight.weights()));
        const [a, r] = [await straight.snapshot(), await resumed.snapshot()];
        expect(new Uint8Array(r.optimizers.loss.weights.data)).toEqual(
          new Uint8Array(a.optimizers.loss.weights.data),
        );
        expect(new Uint8Array(r.optimizers.model.weights.data)).toEqual(
          new Uint8Array(a.optimizers.model.weights.data),
        );
      } finally {
        await resumed.dispose();
      }
    } finally {
      await Promise.all([straight.dispose(), first.dispose(), rm(dir, { recursive: true, force: true })]);
    }
  });
});
