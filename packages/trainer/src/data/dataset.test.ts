import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { type Dataset, imageSize, subset } from './dataset';

const data: Dataset = {
  name: 'tiny',
  split: 'test',
  images: Uint8Array.from({ length: 4 * 2 * 1 * 3 }, (_, i) => i),
  labels: Int32Array.from([3, 1, 0, 2]),
  height: 2,
  width: 1,
  channels: 3,
  classes: ['a', 'b', 'c', 'd'],
};

describe('subset', () => {
  it('copies the chosen images and labels in the given order', () => {
    expect(imageSize(data)).toBe(6);
    const picked = subset(data, [2, 0]);
    expect(Array.from(picked.labels)).toEqual([0, 3]);
    expect(Array.from(picked.images)).toEqual([12, 13, 14, 15, 16, 17, 0, 1, 2, 3, 4, 5]);
    expect(picked.classes).toBe(data.classes);
    picked.images[0] = 255;
    expect(data.images[12]).toBe(12);
  });

  it('rejects an index outside the dataset and changes nothing', () => {
    expect(() => subset(data, [1, 4])).toThrow(AnchorageError);
    expect(() => subset(data, [-1])).toThrow(/index -1 is outside \[0, 4\)/);
    expect(Array.from(data.labels)).toEqual([3, 1, 0, 2]);
  });
});
