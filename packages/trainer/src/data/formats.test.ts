import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { loadCifar10, loadCifar100 } from './cifar';
import type { Dataset } from './dataset';
import { listFood101 } from './food101';
import { readMat } from './mat';
import { loadDataset, openSplit } from './registry';
import { allImages, type StreamingSplit } from './split';
import { loadSvhn } from './svhn';
import { listTinyImageNet } from './tiny-imagenet';

const root = await mkdtemp(join(tmpdir(), 'anchorage-formats-'));
const cacheDir = join(root, 'cache');
afterAll(() => rm(root, { recursive: true, force: true }));

/** The pixel (row, col, channel) of image i in every fixture: a value no two places share often. */
const pixel = (i: number, row: number, col: number, ch: number) =>
  (i * 37 + row * 5 + col * 3 + ch * 101) % 256;

/** Checks a 32×32×3 dataset's pixels against {@link pixel} for images `ids` (their fixture numbers). */
function expectPixels(dataset: Dataset, ids: number[]): void {
  expect([dataset.height, dataset.width, dataset.channels]).toEqual([32, 32, 3]);
  ids.forEach((id, i) => {
    for (const [row, col, ch] of [
      [0, 0, 0],
      [0, 1, 2],
      [5, 9, 1],
      [31, 30, 2],
      [17, 4, 0],
    ] as const) {
      expect(dataset.images[i * 3072 + (row * 32 + col) * 3 + ch]).toBe(pixel(id, row, col, ch));
    }
  });
}

/** One CIFAR record: label bytes, then the red, green and blue planes, each 32×32 row-major. */
function cifarRecord(labels: number[], id: number): Uint8Array {
  const out = new Uint8Array(labels.length + 3072);
  out.set(labels);
  for (let ch = 0; ch < 3; ch++)
    for (let row = 0; row < 32; row++)
      for (let col = 0; col < 32; col++)
        out[labels.length + ch * 1024 + row * 32 + col] = pixel(id, row, col, ch);
  return out;
}

const concat = (parts: Uint8Array[]) => Buffer.concat(parts.map((p) => Buffer.from(p)));

describe('CIFAR binary batches', () => {
  it('CIFAR-10: five training batches and the test batch, planar pixels to channels-last, names from batches.meta.txt', async () => {
    const dir = join(root, 'cifar-10-batches-bin');
    await mkdir(dir, { recursive: true });
    for (let b = 1; b <= 5; b++) {
      await writeFile(
        join(dir, `data_batch_${b}.bin`),
        concat([0, 1].map((r) => cifarRecord([(b * 2 + r) % 10], b * 2 + r))),
      );
    }
    await writeFile(join(dir, 'test_batch.bin'), concat([cifarRecord([9], 100), cifarRecord([0], 101)]));
    const names = ['plane', 'car', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'];
    await writeFile(join(dir, 'batches.meta.txt'), `${names.join('\n')}\n\n`);
    // the folder above works too, and the registry knows the format
    const train = await loadDataset({ name: 'cifar-10', dir: root, split: 'train' });
    expect(Array.from(train.labels)).toEqual([2, 3, 4, 5, 6, 7, 8, 9, 0, 1]);
    expect(train.classes).toEqual(names);
    expectPixels(train, [2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const test = await loadCifar10({ dir, split: 'test' });
    expect(Array.from(test.labels)).toEqual([9, 0]);
    expectPixels(test, [100, 101]);

    await writeFile(join(dir, 'test_batch.bin'), concat([cifarRecord([9], 100)]).subarray(0, 3000));
    await expect(loadCifar10({ dir, split: 'test' })).rejects.toThrow(
      /test_batch\.bin is 3000 bytes, not a whole number of 3073-byte/,
    );
    await writeFile(join(dir, 'test_batch.bin'), concat([cifarRecord([10], 100)]));
    await expect(loadCifar10({ dir, split: 'test' })).rejects.toThrow(
      /test_batch\.bin: record 0 has label 10, outside \[0, 10\)/,
    );
  });

  it('CIFAR-100: fine labels by default, coarse with labelSet, names from the label-name files', async () => {
    const dir = join(root, 'cifar-100-binary');
    await mkdir(dir, { recursive: true });
    await writeFile(
      join(dir, 'train.bin'),
      concat([cifarRecord([3, 99], 0), cifarRecord([19, 42], 1), cifarRecord([0, 0], 2)]),
    );
    await writeFile(join(dir, 'test.bin'), concat([cifarRecord([7, 55], 3)]));
    await expect(loadCifar100({ dir, split: 'train' })).rejects.toThrow(/fine_label_names\.txt is missing/);
    const fine = Array.from({ length: 100 }, (_, i) => `fine${i}`);
    const coarse = Array.from({ length: 20 }, (_, i) => `coarse${i}`);
    await writeFile(join(dir, 'fine_label_names.txt'), fine.join('\n'));
    await writeFile(join(dir, 'coarse_label_names.txt'), coarse.join('\n'));
    const train = await loadCifar100({ dir, split: 'train' });
    expect(Array.from(train.labels)).toEqual([99, 42, 0]);
    expect(train.classes).toEqual(fine);
    expectPixels(train, [0, 1, 2]);
    const byCoarse = await loadDataset({ name: 'cifar-100', dir: root, split: 'test', labelSet: 'coarse' });
    expect(Array.from(byCoarse.labels)).toEqual([7]);
    expect(byCoarse.classes).toEqual(coarse);
    expectPixels(byCoarse, [3]);
    await writeFile(join(dir, 'test.bin'), concat([cifarRecord([20, 1], 3)]));
    await expect(loadCifar100({ dir, split: 'test', labelSet: 'coarse' })).rejects.toThrow(
      /label 20, outside \[0, 20\)/,
    );
  });
});

/** A data element: type and byte count, the bytes, zero padding to 8 (small form for ≤ 4 bytes). */
function element(type: number, bytes: Uint8Array, small = false): Uint8Array {
  if (small && bytes.length <= 4) {
    const out = new Uint8Array(8);
    new DataView(out.buffer).setUint32(0, (bytes.length << 16) | type, true);
    out.set(bytes, 4);
    return out;
  }
  const out = new Uint8Array(8 + Math.ceil(bytes.length / 8) * 8);
  const view = new DataView(out.buffer);
  view.setUint32(0, type, true);
  view.setUint32(4, bytes.length, true);
  out.set(bytes, 8);
  return out;
}

/** A miMATRIX element of a numeric array: flags (class), dims, name, real part (stored as `type`). */
function matrix(name: string, classId: number, dims: number[], type: number, data: Uint8Array): Uint8Array {
  const flags = new Uint8Array(8);
  flags[0] = classId;
  const dimBytes = new Uint8Array(Int32Array.from(dims).buffer);
  const body = concat([
    element(6, flags),
    element(5, dimBytes),
    element(1, new TextEncoder().encode(name), true),
    element(type, data),
  ]);
  return element(14, body);
}

/** A level-5 MAT-file: the 128-byte header, then the elements, each compressed when asked. */
function matFile(elements: Uint8Array[], compress: boolean): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, written by a test'));
  header.fill(0, 116, 124);
  header.set([0x00, 0x01, 0x49, 0x4d], 124); // version 0x0100, 'IM'
  const body = elements.map((e) => {
    if (!compress) return e;
    const z = deflateSync(e);
    const tag = new Uint8Array(8);
    new DataView(tag.buffer).setUint32(0, 15, true);
    new DataView(tag.buffer).setUint32(4, z.length, true);
    return concat([tag, z]);
  });
  return concat([header, ...body]);
}

/** SVHN's X (32×32×3×N uint8, column-major) and y (N×1 double) for fixture images `ids` labelled `ys`. */
function svhnElements(ids: number[], ys: number[], xName = 'X'): Uint8Array[] {
  const n = ids.length;
  const x = new Uint8Array(3072 * n);
  ids.forEach((id, i) => {
    for (let ch = 0; ch < 3; ch++)
      for (let col = 0; col < 32; col++)
        for (let row = 0; row < 32; row++) x[row + 32 * col + 1024 * ch + 3072 * i] = pixel(id, row, col, ch);
  });
  const y = new Uint8Array(Float64Array.from(ys).buffer);
  return [matrix(xName, 9, [32, 32, 3, n], 2, x), matrix('y', 6, [n, 1], 9, y)];
}

describe('SVHN .mat files', () => {
  const dir = join(root, 'svhn');

  it('reads X and y from uncompressed and compressed MAT-files; label 10 is digit 0; extra joins training', async () => {
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'train_32x32.mat'), matFile(svhnElements([0, 1, 2], [1, 10, 9]), false));
    await writeFile(join(dir, 'test_32x32.mat'), matFile(svhnElements([5, 6], [10, 3]), true));
    await writeFile(join(dir, 'extra_32x32.mat'), matFile(svhnElements([7], [4]), true));
    const train = await loadDataset({ name: 'svhn', dir, split: 'train' });
    expect(Array.from(train.labels)).toEqual([1, 0, 9]);
    expect(train.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expectPixels(train, [0, 1, 2]);
    const test = await loadSvhn({ dir, split: 'test' });
    expect(Array.from(test.labels)).toEqual([0, 3]);
    expectPixels(test, [5, 6]);
    const withExtra = await loadSvhn({ dir, split: 'train', extra: true });
    expect(Array.from(withExtra.labels)).toEqual([1, 0, 9, 4]);
    expectPixels(withExtra, [0, 1, 2, 7]);
    const arrays = readMat(matFile(svhnElements([1], [2]), true));
    expect(arrays.get('X')?.dims).toEqual([32, 32, 3, 1]);
    expect(arrays.get('y')).toMatchObject({ className: 'double', dims: [1, 1] });
  });

  it('a wrong variable, a bad label, a truncated or non-MAT file is an error naming the file', async () => {
    const path = join(dir, 'test_32x32.mat');
    await writeFile(path, matFile(svhnElements([5], [3], 'images'), true));
    await expect(loadSvhn({ dir, split: 'test' })).rejects.toThrow(
      /test_32x32\.mat has no numeric variable "X" \(it has: images, y\)/,
    );
    await writeFile(path, matFile(svhnElements([5], [11]), false));
    await expect(loadSvhn({ dir, split: 'test' })).rejects.toThrow(
      /test_32x32\.mat: y\(1\) = 11, outside 1\.\.10/,
    );
    const whole = matFile(svhnElements([5, 6], [3, 4]), false);
    await writeFile(path, whole.subarray(0, whole.length - 100));
    await expect(loadSvhn({ dir, split: 'test' })).rejects.toThrow(/test_32x32\.mat: .*truncated/);
    const zipped = matFile(svhnElements([5, 6], [3, 4]), true);
    const cut = Buffer.from(zipped.subarray(0, zipped.length - 50));
    new DataView(cut.buffer, cut.byteOffset).setUint32(128 + 4, cut.length - 136, true);
    await writeFile(path, cut);
    await expect(loadSvhn({ dir, split: 'test' })).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      value: path,
    });
    await writeFile(path, Buffer.from('\x89HDF\r\n'.padEnd(200, '\0')));
    await expect(loadSvhn({ dir, split: 'test' })).rejects.toThrow(/not a MATLAB 5\.0 MAT-file/);
  });
});

/** A solid-colour JPEG of 12×10 whose red value names it. */
async function jpeg(path: string, red: number): Promise<void> {
  const data = Uint8Array.from({ length: 12 * 10 * 3 }, (_, i) => (i % 3 === 0 ? red : 90));
  await writeFile(
    path,
    await sharp(data, { raw: { width: 12, height: 10, channels: 3 } })
      .jpeg({ quality: 100 })
      .toBuffer(),
  );
}

describe('Food-101 and Tiny ImageNet', () => {
  it('Food-101: meta/classes.txt, labels.txt, train.txt and test.txt name images/<class>/<id>.jpg', async () => {
    const dir = join(root, 'food-101');
    await mkdir(join(dir, 'meta'), { recursive: true });
    for (const [cls, ids] of [
      ['apple_pie', ['11', '12']],
      ['ramen', ['21', '22']],
    ] as const) {
      await mkdir(join(dir, 'images', cls), { recursive: true });
      for (const id of ids) await jpeg(join(dir, 'images', cls, `${id}.jpg`), Number(id) * 10);
    }
    await writeFile(join(dir, 'meta', 'classes.txt'), 'apple_pie\nramen\n');
    await writeFile(join(dir, 'meta', 'labels.txt'), 'Apple pie\nRamen\n');
    await writeFile(join(dir, 'meta', 'train.txt'), 'apple_pie/11\nramen/21\nramen/22\n');
    await expect(listFood101(root, 'test')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining(join(dir, 'meta', 'test.txt')),
    });
    await writeFile(join(dir, 'meta', 'test.txt'), 'apple_pie/12\n');
    const train = (await openSplit({
      name: 'food-101',
      dir: root,
      split: 'train',
      input: { imageSize: 8 },
      cacheDir,
    })) as StreamingSplit;
    expect(train.classes).toEqual(['Apple pie', 'Ramen']);
    expect(Array.from(train.labels)).toEqual([0, 1, 1]);
    expect([train.height, train.width, train.channels]).toEqual([8, 8, 3]);
    const pixels = allImages(train);
    // the red channel of each solid photo survives decoding (JPEG at quality 100: within a few levels)
    for (const [i, red] of [110, 210, 220].entries()) {
      expect(Math.abs(pixels[i * 192 + 3 * 27]! - red)).toBeLessThanOrEqual(3);
    }
    train.close();
    await writeFile(join(dir, 'meta', 'test.txt'), 'apple_pie/12\nsushi/1\n');
    await expect(listFood101(dir, 'test')).rejects.toThrow(/test\.txt line 2: "sushi\/1"/);
  });

  it('Tiny ImageNet: wnids.txt classes named from words.txt, train/<wnid>/images, val/ as the test split', async () => {
    const dir = join(root, 'tiny-imagenet-200');
    const wnids = ['n01443537', 'n01629819'];
    await mkdir(join(dir, 'val', 'images'), { recursive: true });
    await writeFile(join(dir, 'wnids.txt'), `${wnids.join('\n')}\n`);
    await writeFile(
      join(dir, 'words.txt'),
      'n00001740\tentity\nn01443537\tgoldfish, Carassius auratus\nn01629819\tEuropean fire salamander, Salamandra salamandra\n',
    );
    for (const [c, wnid] of wnids.entries()) {
      await mkdir(join(dir, 'train', wnid, 'images'), { recursive: true });
      for (let i = 0; i < 2; i++)
        await jpeg(join(dir, 'train', wnid, 'images', `${wnid}_${i}.JPEG`), 100 * c + 10 * i);
    }
    for (const [i, red] of [30, 130, 140].entries())
      await jpeg(join(dir, 'val', 'images', `val_${i}.JPEG`), red);
    await writeFile(
      join(dir, 'val', 'val_annotations.txt'),
      'val_0.JPEG\tn01629819\t0\t0\t10\t10\nval_1.JPEG\tn01443537\t1\t2\t3\t4\nval_2.JPEG\tn01629819\t0\t0\t1\t1\n',
    );
    const train = await listTinyImageNet(root, 'train');
    expect(train.classes).toEqual(['goldfish', 'European fire salamander']);
    expect(Array.from(train.labels)).toEqual([0, 0, 1, 1]);
    const test = (await openSplit({ name: 'tiny-imagenet', dir, split: 'test', cacheDir })) as StreamingSplit;
    expect(Array.from(test.labels)).toEqual([1, 0, 1]);
    expect([test.height, test.width, test.channels]).toEqual([64, 64, 3]);
    const pixels = allImages(test);
    for (const [i, red] of [30, 130, 140].entries()) {
      expect(Math.abs(pixels[i * 64 * 64 * 3 + 3 * 2000]! - red)).toBeLessThanOrEqual(3);
    }
    test.close();
    await writeFile(join(dir, 'val', 'val_annotations.txt'), 'val_0.JPEG\tn99999999\t0\t0\t1\t1\n');
    await expect(listTinyImageNet(dir, 'test')).rejects.toThrow(/val_annotations\.txt line 1/);
  });
});
