import { describe, expect, it } from 'vitest';
import { Random } from '../random';
import { augmentImage, augmentRandom } from './augment';
import { iterateBatches } from './batches';
import type { Dataset } from './dataset';

const shape = { height: 8, width: 8, channels: 3 };
const image = Uint8Array.from({ length: 8 * 8 * 3 }, (_, i) => 1 + ((i * 29) % 250));

/** The image shifted by (dy, dx), mirrored first when `flip`, black where it leaves the frame. */
function shifted(dy: number, dx: number, flip: boolean): Uint8Array {
  const out = new Uint8Array(image.length);
  for (let y = 0; y < 8; y++)
    for (let x = 0; x < 8; x++) {
      const sy = y + dy;
      const sx = (flip ? 7 - x : x) + dx;
      if (sy < 0 || sy > 7 || sx < 0 || sx > 7) continue;
      for (let c = 0; c < 3; c++) out[(y * 8 + x) * 3 + c] = image[(sy * 8 + sx) * 3 + c]!;
    }
  return out;
}

describe('augmentImage', () => {
  it('crop-flip is always a shift by at most an eighth of the side, mirrored about half the time', () => {
    const rng = new Random(3);
    const out = new Uint8Array(image.length);
    let flips = 0;
    for (let draw = 0; draw < 60; draw++) {
      augmentImage(image, out, shape, 'crop-flip', rng);
      const matches: boolean[] = [];
      for (const flip of [false, true])
        for (let dy = -1; dy <= 1; dy++)
          for (let dx = -1; dx <= 1; dx++)
            if (Buffer.from(out).equals(Buffer.from(shifted(dy, dx, flip)))) matches.push(flip);
      expect(matches.length).toBeGreaterThan(0);
      if (matches.every((f) => f)) flips += 1;
    }
    expect(flips).toBeGreaterThan(15);
    expect(flips).toBeLessThan(45);
  });

  it('resized-crop-flip keeps a constant image constant, stays within the input range, and varies', () => {
    const rng = new Random(4);
    const flat = new Uint8Array(image.length).fill(77);
    const out = new Uint8Array(image.length);
    augmentImage(flat, out, shape, 'resized-crop-flip', rng);
    expect(new Set(out)).toEqual(new Set([77]));
    const seen = new Set<string>();
    for (let draw = 0; draw < 20; draw++) {
      augmentImage(image, out, shape, 'resized-crop-flip', rng);
      expect(Math.min(...out)).toBeGreaterThanOrEqual(Math.min(...image));
      expect(Math.max(...out)).toBeLessThanOrEqual(Math.max(...image));
      seen.add(Buffer.from(out).toString('hex'));
    }
    expect(seen.size).toBeGreaterThan(15);
  });
});

describe('iterateBatches with augmentation', () => {
  const dataset: Dataset = {
    name: 'tiny',
    split: 'train',
    images: Uint8Array.from({ length: 10 * image.length }, (_, i) => image[i % image.length]! ^ (i >> 6)),
    labels: Int32Array.from({ length: 10 }, (_, i) => i % 2),
    height: 8,
    width: 8,
    channels: 3,
    classes: ['a', 'b'],
  };
  const run = (epoch: number, startBatch = 0, policy: 'crop-flip' | 'none' = 'crop-flip') =>
    [...iterateBatches(dataset, { batchSize: 4, startBatch, augment: { policy, seed: 9, epoch } })].map((b) =>
      Array.from(b.images),
    );

  it('draws per (seed, epoch, batch): a resumed epoch repeats the same batches, another epoch differs', () => {
    const full = run(0);
    expect(run(0, 1)).toEqual(full.slice(1));
    expect(run(1)).not.toEqual(full);
    expect(run(0, 0, 'none')).toEqual(
      [...iterateBatches(dataset, { batchSize: 4 })].map((b) => Array.from(b.images)),
    );
    expect(augmentRandom(9, 0, 1).nextUint32()).toBe(augmentRandom(9, 0, 1).nextUint32());
  });
});
