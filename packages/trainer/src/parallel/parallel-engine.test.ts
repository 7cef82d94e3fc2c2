import { describe, expect, it } from 'vitest';
import { selectBackend } from '../backends';
import { Random } from '../random';
import { resolveTrainConfig } from '../train/config';
import type { EngineBatch } from '../train/engine';
import { createLocalEngine } from '../train/local-engine';
import { createParallelEngine, shardBatch } from './parallel-engine';

const inputShape: [number, number, number] = [12, 12, 1];
const classes = 4;
const config = resolveTrainConfig({ dataset: 'synthetic', dim: 6, seed: 9, lr: 1e-2, backend: 'wasm' });

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
    const parallel = await createParallelEngine({ config, inputShape, classes, workers: 2 });
    try {
      await selectBackend('wasm', { log: () => {} });
      // The single-thread engine starts from the replicas' snapshot, so only the data split differs.
      const local = await createLocalEngine({
        config,
        inputShape,
        classes,
        snapshot: await parallel.snapshot(),
      });
      try {
        const before = await parallel.weights();
        for (let step = 0; step < 3; step++) {
          const b = batch(10 + step, 7); // odd size: shards of 4 and 3
          const copy = { images: b.images.slice(), labels: b.labels.slice(), size: b.size };
          const [p, l] = [await parallel.step(b), await local.step(copy)];
          expect(p.applied && l.applied).toBe(true);
          // float32 sums in another order: equal to a relative 1e-5
          expect(Math.abs(p.terms.loss - l.terms.loss) / l.terms.loss).toBeLessThan(1e-5);
          expect(Math.abs(p.terms.repeller - l.terms.repeller)).toBeLessThan(1e-5);
        }
        const [w0, w1] = await parallel.weights();
        expect(maxAbsDiff(w0!, w1!)).toBe(0);
        expect(maxAbsDiff(w0!, before[0]!)).toBeGreaterThan(1e-3);
        const snap = await local.snapshot();
        const localAnchors = snap.anchors;
        const parallelAnchors = (await parallel.snapshot()).anchors;
        expect(maxAbsDiff(localAnchors, parallelAnchors)).toBeLessThan(1e-4);
        const localWeights = new Float32Array(snap.model.weights.data);
        const parallelWeights = new Float32Array((await parallel.snapshot()).model.weights.data);
        expect(maxAbsDiff(localWeights, parallelWeights)).toBeLessThan(1e-4);
      } finally {
        await local.dispose();
      }
    } finally {
      await parallel.dispose();
    }
  }, 120_000);
});
