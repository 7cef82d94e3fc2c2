import { describe, expect, it } from 'vitest';
import { batchCount, iterateBatches } from './batches';
import type { Dataset } from './dataset';

function tiny(channels: number): Dataset {
  const n = 5;
  const size = 2 * 2 * channels;
  return {
    name: 'tiny',
    split: 'train',
    images: Uint8Array.from({ length: n * size }, (_, i) => (i * 37) % 256),
    labels: Int32Array.from({ length: n }, (_, i) => i % 2),
    height: 2,
    width: 2,
    channels,
    classes: ['a', 'b'],
  };
}

describe('iterateBatches', () => {
  it('converts pixels to (x / 255 − mean) / std in the given order, batch by batch', () => {
    const data = tiny(3);
    const order = Int32Array.from([4, 2, 0, 1, 3]);
    const normalization = { mean: [0.5, 0.25, 0], std: [0.5, 2, 1] };
    const batches = [...iterateBatches(data, { batchSize: 2, order, normalization })];
    expect(batches.map((b) => b.size)).toEqual([2, 2, 1]);
    expect(batches.map((b) => Array.from(b.indices))).toEqual([[4, 2], [0, 1], [3]]);
    const b = batches[0]!;
    expect(Array.from(b.labels)).toEqual([0, 0]);
    for (let i = 0; i < 2; i++) {
      for (let p = 0; p < 12; p++) {
        const c = p % 3;
        const pixel = data.images[order[i]! * 12 + p]!;
        expect(b.images[i * 12 + p]).toBeCloseTo(
          (pixel / 255 - normalization.mean[c]!) / normalization.std[c]!,
          6,
        );
      }
    }
  });

  it('drops the last partial batch on request and resumes at startBatch', () => {
    const data = tiny(1);
    expect([...iterateBatches(data, { batchSize: 2, dropLast: true })].length).toBe(2);
    expect(batchCount(5, 2, true)).toBe(2);
    expect(batchCount(5, 2)).toBe(3);
    const resumed = [...iterateBatches(data, { batchSize: 2, startBatch: 1 })];
    expect(resumed.map((r) => Array.from(r.indices))).toEqual([[2, 3], [4]]);
    expect(resumed[1]!.images[0]).toBeCloseTo(data.images[16]! / 255, 7);
  });

  it('rejects a bad batch size, order or normalisation', () => {
    const data = tiny(1);
    expect(() => [...iterateBatches(data, { batchSize: 0 })]).toThrow(/batchSize/);
    expect(() => [...iterateBatches(data, { batchSize: 2, order: new Int32Array(3) })]).toThrow(/order/);
    expect(() => [...iterateBatches(data, { batchSize: 2, normalization: { mean: [0], std: [0] } })]).toThrow(
      /normalization/,
    );
  });
});
