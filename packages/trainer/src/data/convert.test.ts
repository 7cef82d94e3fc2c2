import { describe, expect, it } from 'vitest';
import { convertDataset, targetGeometry } from './convert';
import type { Dataset } from './dataset';

describe('convertDataset', () => {
  const dataset: Dataset = {
    name: 'tiny',
    split: 'train',
    images: Uint8Array.from({ length: 2 * 28 * 28 }, (_, i) => i % 251),
    labels: Int32Array.from([0, 1]),
    height: 28,
    width: 28,
    channels: 1,
    classes: ['a', 'b'],
  };

  it('leaves a dataset of the asked geometry as it is', async () => {
    expect(await convertDataset(dataset, targetGeometry(dataset, {}))).toBe(dataset);
  });

  it('pads 28×28 grey to 32×32×3 image by image, keeping the labels', async () => {
    const out = await convertDataset(
      dataset,
      targetGeometry(dataset, { imageSize: 32, channels: 3, fit: 'pad' }),
    );
    expect([out.height, out.width, out.channels]).toEqual([32, 32, 3]);
    expect(out.labels).toEqual(dataset.labels);
    for (const i of [0, 1])
      for (const [y, x] of [
        [0, 0],
        [2, 2],
        [2, 5],
        [17, 20],
        [29, 29],
        [30, 31],
      ] as const) {
        const inside = y >= 2 && y < 30 && x >= 2 && x < 30;
        const expected = inside ? dataset.images[i * 784 + (y - 2) * 28 + (x - 2)]! : 0;
        for (let c = 0; c < 3; c++) expect(out.images[i * 3072 + (y * 32 + x) * 3 + c]).toBe(expected);
      }
  });
});
