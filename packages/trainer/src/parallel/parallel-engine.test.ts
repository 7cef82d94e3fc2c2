import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerBackbone } from '../models';
import { Random } from '../random';
import { firstStepGradient } from '../train/adam-test-support';
import type { TensorBundle } from '../train/checkpoint';
import { resolveTrainConfig } from '../train/config';
import type { EngineBatch } from '../train/engine';
import { shardBatch } from './parallel-engine';
import { withTwinEngines } from './twin-engines-test-support';

const inputShape: [number, number, number] = [12, 12, 1];
const classes = 4;
const config = resolveTrainConfig({
  dataset: 'synthetic',
  dim: 6,
  seed: 9,
  lr: 1e-2,
  lossLr: 1e-2,
  backend: 'wasm',
});

function batch(seed: number, size: number): EngineBatch {
  const rng = new Random(seed);
  return {
    images: Float32Array.from({ length: size * 144 }, () => rng.nextFloat() * 2 - 1),
    labels: Int32Array.from({ length: size }, () => rng.nextInt(classes)),
    size,
  };
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** conv–BN–ReLU–GAP–dense, registered on this thread only; returns the unregister function. */
function registerRuntimeBn(): () => void {
  return registerBackbone({
    name: 'runtime-bn',
    description: 'conv–BN–ReLU–GAP–dense, registered by the test',
    create: ({ inputShape: shape, dim, seed }) =>
      tf.sequential({
        layers: [
          tf.layers.conv2d({
            inputShape: [...shape],
            filters: 8,
            kernelSize: 3,
            useBias: false,
            kernelInitializer: tf.initializers.heNormal({ seed }),
          }),
          tf.layers.batchNormalization({ momentum: 0.5 }),
          tf.layers.reLU(),
          tf.layers.globalAveragePooling2d({}),
          tf.layers.dense({
            units: dim,
            kernelInitializer: tf.initializers.glorotUniform({ seed: seed + 1 }),
          }),
        ],
      }),
  });
}

/** A snapshot's model weights by name. */
function namedWeights(bundle: TensorBundle): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  let offset = 0;
  for (const spec of bundle.specs) {
    const size = spec.shape.reduce((a, b) => a * b, 1);
    out[spec.name] = new Float32Array(bundle.data.slice(offset * 4, (offset + size) * 4));
    offset += size;
  }
  return out;
}

describe('shardBatch', () => {
  it('splits into contiguous shards that differ by at most one and drops empty ones', () => {
    const b = batch(1, 5);
    const shards = shardBatch(b, 2);
    expect(shards.map((s) => s.size)).toEqual([3, 2]);
    expect(Array.from(shards[1]!.labels)).toEqual(Array.from(b.labels.slice(3)));
    expect(shards[1]!.images).toEqual(b.images.slice(3 * 144));
    expect(shardBatch(batch(1, 1), 3).map((s) => s.size)).toEqual([1]);
  });
});

describe('createParallelEngine', () => {
  it('keeps identical weights on every worker and matches single-thread training', async () => {
    // The single-thread engine starts from the replicas' snapshot, so only the data split differs.
    await withTwinEngines({ config, inputShape, classes }, async (parallel, local) => {
      const before = await parallel.weights();
      for (let step = 0; step < 3; step++) {
        const b = batch(10 + step, 7); // odd size: shards of 4 and 3
        const copy = { images: b.images.slice(), labels: b.labels.slice(), size: b.size };
        const [p, l] = [await parallel.step(b), await local.step(copy)];
        expect(p.applied && l.applied).toBe(true);
        // Same weights, and every image's forward pass is independent of its batch: equal losses.
        // After Adam steps the runs drift apart more than float rounding suggests: Adam's first
        // update is ≈ lr·sign(g), so a weight whose gradient is exactly 0 in one run and a
        // rounding residue (~1e-8, from the Winograd transforms) in the other moves by ~lr in
        // only one of them. The gradients themselves agree to 1e-5 (the next test).
        const tolerance = step === 0 ? 1e-6 : 1e-3;
        expect(Math.abs(p.terms.loss - l.terms.loss) / l.terms.loss).toBeLessThan(tolerance);
        expect(Math.abs(p.terms.repeller - l.terms.repeller)).toBeLessThan(tolerance);
      }
      const [w0, w1] = await parallel.weights();
      expect(maxAbsDiff(w0!, w1!)).toBe(0);
      expect(maxAbsDiff(w0!, before[0]!)).toBeGreaterThan(1e-3);
      const snap = await local.snapshot();
      const localAnchors = snap.classAnchors!;
      const parallelAnchors = (await parallel.snapshot()).classAnchors!;
      expect(maxAbsDiff(localAnchors, parallelAnchors)).toBeLessThan(1e-4);
      const localWeights = new Float32Array(snap.model.weights.data);
      const parallelWeights = new Float32Array((await parallel.snapshot()).model.weights.data);
      expect(maxAbsDiff(localWeights, parallelWeights)).toBeLessThan(3 * config.lr);
    });
  });

  it("applies the full batch's gradient: the shards' gradients averaged by shard size", async () => {
    await withTwinEngines({ config, inputShape, classes }, async (parallel, local) => {
      const b = batch(20, 7); // shards of 4 and 3
      const copy = () => ({ images: b.images.slice(), labels: b.labels.slice(), size: b.size });
      const full = (await local.gradients(copy())).values!;
      const scale = Math.max(...Array.from(full, Math.abs));
      // the gradient the engine applied, read back from its optimisers after its first step
      expect((await parallel.step(copy())).applied).toBe(true);
      const applied = firstStepGradient(await parallel.snapshot());
      expect(applied).toHaveLength(full.length);
      expect(maxAbsDiff(applied, full) / scale).toBeLessThan(1e-5);
      const [w0, w1] = await parallel.weights();
      expect(maxAbsDiff(w0!, w1!)).toBe(0);
      // the read-back is exact on one thread, where the step applies `full` itself
      expect((await local.step(copy())).applied).toBe(true);
      expect(maxAbsDiff(firstStepGradient(await local.snapshot()), full) / scale).toBeLessThan(1e-6);
      // an unweighted mean of the shards is measurably different: the check can fail
      const halves = await Promise.all(
        shardBatch(b, 2).map(async (shard) => (await local.gradients(shard)).values!),
      );
      const unweighted = full.map((_: number, k: number) => (halves[0]![k]! + halves[1]![k]!) / 2);
      expect(maxAbsDiff(unweighted, full) / scale).toBeGreaterThan(1e-3);
    });
  });

  it('trains a backbone registered at run time (with batch norm): replicas keep identical weights and moving statistics', async () => {
    // Registered on this thread only: the workers' own module instances have never heard of it.
    const unregister = registerRuntimeBn();
    try {
      const runtime = resolveTrainConfig({ ...config, dataset: 'synthetic', backbone: 'runtime-bn' });
      await withTwinEngines({ config: runtime, inputShape, classes }, async (parallel) => {
        const [before] = await parallel.weights();
        for (let step = 0; step < 2; step++)
          expect((await parallel.step(batch(30 + step, 7))).applied).toBe(true);
        const [w0, w1] = await parallel.weights();
        expect(maxAbsDiff(w0!, w1!)).toBe(0);
        // the moving statistics moved (momentum 0.5): the mean starts at 0, the variance at 1
        const layers = (await parallel.snapshot()).model.weights.specs.map((s) => s.name);
        expect(layers.some((n) => n.endsWith('moving_mean'))).toBe(true);
        expect(maxAbsDiff(w0!, before!)).toBeGreaterThan(1e-3);
      });
    } finally {
      unregister();
    }
  });
  it('keeps --freeze layers (moving statistics included) fixed on every worker until --unfreeze-after', async () => {
    const unregister = registerRuntimeBn();
    try {
      const frozen = resolveTrainConfig({
        ...config,
        dataset: 'synthetic',
        backbone: 'runtime-bn',
        freeze: 2,
        unfreezeAfter: 1,
      });
      await withTwinEngines({ config: frozen, inputShape, classes }, async (parallel) => {
        await parallel.beginEpoch!(0);
        const start = namedWeights((await parallel.snapshot()).model.weights);
        const fixed = Object.keys(start).filter((n) => /conv2d|batch_normalization/.test(n));
        const dense = Object.keys(start).filter((n) => n.includes('dense'));
        expect(fixed.length).toBe(5); // kernel, gamma, beta, moving mean, moving variance
        for (let step = 0; step < 2; step++)
          expect((await parallel.step(batch(40 + step, 7))).applied).toBe(true);
        const [w0, w1] = await parallel.weights();
        expect(maxAbsDiff(w0!, w1!)).toBe(0);
        const after = namedWeights((await parallel.snapshot()).model.weights);
        for (const name of fixed) expect(after[name], name).toEqual(start[name]);
        for (const name of dense) expect(maxAbsDiff(after[name]!, start[name]!), name).toBeGreaterThan(0);
        await parallel.beginEpoch!(1);
        expect((await parallel.step(batch(50, 7))).applied).toBe(true);
        const thawed = namedWeights((await parallel.snapshot()).model.weights);
        for (const name of fixed) expect(maxAbsDiff(thawed[name]!, after[name]!), name).toBeGreaterThan(0);
        const [t0, t1] = await parallel.weights();
        expect(maxAbsDiff(t0!, t1!)).toBe(0);
      });
    } finally {
      unregister();
    }
  });
});
