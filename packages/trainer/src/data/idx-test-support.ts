import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Split } from './dataset';
import { encodeIdx } from './idx';
import { loadDataset } from './registry';

/** Writes one split as the two IDX files of the MNIST layout (`train-…` / `t10k-…`) into `dir`. */
export async function writeIdxSplit(
  dir: string,
  split: Split,
  images: Uint8Array,
  labels: ArrayLike<number>,
  height = 28,
  width = 28,
): Promise<void> {
  const prefix = split === 'train' ? 'train' : 't10k';
  const count = labels.length;
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, `${prefix}-images-idx3-ubyte`),
    encodeIdx({
      dtype: 'uint8',
      shape: [count, height, width],
      data: images.subarray(0, count * height * width),
    }),
  );
  await writeFile(
    join(dir, `${prefix}-labels-idx1-ubyte`),
    encodeIdx({ dtype: 'uint8', shape: [count], data: Uint8Array.from(labels) }),
  );
}

/**
 * A small IDX folder cut from a real dataset: the first `train` training and `test` test images of
 * `name` (read from `from`, or the dataset's default place), written to `out`.
 */
export async function writeIdxSlice(options: {
  name: 'mnist' | 'fashion-mnist';
  from?: string;
  out: string;
  train: number;
  test: number;
}): Promise<void> {
  for (const split of ['train', 'test'] as const) {
    const full = await loadDataset({ name: options.name, dir: options.from, split });
    const count = options[split];
    await writeIdxSplit(
      options.out,
      split,
      full.images,
      full.labels.subarray(0, count),
      full.height,
      full.width,
    );
  }
}
