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

describe('iterateBatches on RGB', () => {
  it('normalises each channel with its own mean and std, in memory and streamed alike', () => {
    const images = Uint8Array.from({ length: 2 * 2 * 2 * 3 }, (_, i) => (i * 53) % 256);
    const dataset = {
      name: 'rgb',
      split: 'train' as const,
      images,
      labels: Int32Array.from([0, 1]),
      height: 2,
      width: 2,
      channels: 3,
      classes: ['a', 'b'],
    };
    const normalization = { mean: [0.1, 0.5, 0.9], std: [0.2, 0.3, 0.4] };
    const [batch] = [...iterateBatches(dataset, { batchSize: 2, normalization })];
    for (let i = 0; i < images.length; i++) {
      const c = i % 3;
      expect(batch!.images[i]).toBeCloseTo(
        (images[i]! / 255 - normalization.mean[c]!) / normalization.std[c]!,
        5,
      );
    }
    const streamed = {
      ...dataset,
      readImages: (indices: ArrayLike<number>, target: Uint8Array) => {
        for (let i = 0; i < indices.length; i++)
          target.set(images.subarray(indices[i]! * 12, indices[i]! * 12 + 12), i * 12);
      },
      close: () => {},
    };
    const { images: _, ...withoutPixels } = streamed;
    const [again] = [...iterateBatches(withoutPixels, { batchSize: 2, normalization })];
    expect(again!.images).toEqual(batch!.images);
  });
});
