import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { Dataset, DatasetLoader, Split } from './dataset';

/** CIFAR-10's class names, by label (as in `batches.meta.txt`). */
export const CIFAR10_CLASSES: readonly string[] = [
  'airplane',
  'automobile',
  'bird',
  'cat',
  'deer',
  'dog',
  'frog',
  'horse',
  'ship',
  'truck',
];

const PIXELS = 32 * 32;

/** The folder itself, or its `sub` folder when the user passed the folder above it. */
function resolveDir(dir: string, sub: string): string {
  return existsSync(join(dir, sub)) ? join(dir, sub) : dir;
}

async function readNames(path: string, expected: number): Promise<string[] | undefined> {
  if (!existsSync(path)) return undefined;
  const names = (await readFile(path, 'utf8'))
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
  if (names.length !== expected) {
    throw new AnchorageError('CORRUPT_FILE', `${path} names ${names.length} classes, expected ${expected}`, {
      argument: 'file',
      value: path,
    });
  }
  return names;
}

async function readBatch(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read the CIFAR batch ${path}`, {
      argument: 'data',
      value: path,
      cause,
    });
  }
}

/**
 * Decodes CIFAR binary batch files: records of `labelBytes` label bytes then 3072 pixel bytes
 * (1024 red, 1024 green, 1024 blue, each 32×32 row-major), converted to channels-last. The label
 * taken is the byte at `labelIndex`; a truncated file or a label ≥ `classes` throws naming the file.
 */
function decodeBatches(
  files: { path: string; bytes: Buffer }[],
  labelBytes: number,
  labelIndex: number,
  classes: number,
): { images: Uint8Array; labels: Int32Array } {
  const record = labelBytes + 3 * PIXELS;
  for (const { path, bytes } of files) {
    if (bytes.length === 0 || bytes.length % record !== 0) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `${path} is ${bytes.length} bytes, not a whole number of ${record}-byte CIFAR records (truncated?)`,
        { argument: 'file', value: path },
      );
    }
  }
  const count = files.reduce((n, f) => n + f.bytes.length / record, 0);
  const images = new Uint8Array(count * 3 * PIXELS);
  const labels = new Int32Array(count);
  let n = 0;
  for (const { path, bytes } of files) {
    for (let r = 0; r < bytes.length / record; r++, n++) {
      const base = r * record;
      const label = bytes[base + labelIndex]!;
      if (label >= classes) {
        throw new AnchorageError(
          'CORRUPT_FILE',
          `${path}: record ${r} has label ${label}, outside [0, ${classes})`,
          { argument: 'file', value: path },
        );
      }
      labels[n] = label;
      const out = n * 3 * PIXELS;
      const pixels = base + labelBytes;
      for (let p = 0; p < PIXELS; p++) {
        images[out + 3 * p] = bytes[pixels + p]!;
        images[out + 3 * p + 1] = bytes[pixels + PIXELS + p]!;
        images[out + 3 * p + 2] = bytes[pixels + 2 * PIXELS + p]!;
      }
    }
  }
  return { images, labels };
}

function dataset(
  name: string,
  split: Split,
  decoded: { images: Uint8Array; labels: Int32Array },
  classes: readonly string[],
): Dataset {
  return { name, split, ...decoded, height: 32, width: 32, channels: 3, classes };
}

/** CIFAR-10 binary version: `data_batch_1.bin` … `data_batch_5.bin`, `test_batch.bin`, `batches.meta.txt`. */
export async function loadCifar10(options: { dir: string; split: Split }): Promise<Dataset> {
  const dir = resolveDir(options.dir, 'cifar-10-batches-bin');
  const names =
    options.split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const files = await Promise.all(
    names.map(async (n) => ({ path: join(dir, n), bytes: await readBatch(join(dir, n)) })),
  );
  const classes = (await readNames(join(dir, 'batches.meta.txt'), 10)) ?? CIFAR10_CLASSES;
  return dataset('cifar-10', options.split, decodeBatches(files, 1, 0, 10), classes);
}

/**
 * CIFAR-100 binary version: `train.bin`, `test.bin`, `fine_label_names.txt`,
 * `coarse_label_names.txt`; `labelSet` picks the 100 fine classes (default) or the 20 superclasses.
 */
export async function loadCifar100(options: {
  dir: string;
  split: Split;
  labelSet?: 'fine' | 'coarse';
}): Promise<Dataset> {
  const dir = resolveDir(options.dir, 'cifar-100-binary');
  const coarse = options.labelSet === 'coarse';
  const count = coarse ? 20 : 100;
  const namesPath = join(dir, coarse ? 'coarse_label_names.txt' : 'fine_label_names.txt');
  const classes = await readNames(namesPath, count);
  if (classes === undefined) {
    throw new AnchorageError('NOT_FOUND', `${namesPath} is missing (the class names ship with the batches)`, {
      argument: 'data',
      value: namesPath,
    });
  }
  const path = join(dir, options.split === 'train' ? 'train.bin' : 'test.bin');
  const decoded = decodeBatches([{ path, bytes: await readBatch(path) }], 2, coarse ? 0 : 1, count);
  return dataset('cifar-100', options.split, decoded, classes);
}

/** `cifar-10`: the binary batches (`cifar-10-binary.tar.gz`, extracted). */
export const cifar10Loader: DatasetLoader = {
  name: 'cifar-10',
  description: 'CIFAR-10, 32×32×3, 10 classes (binary batches: data_batch_*.bin, test_batch.bin)',
  defaults: { channels: 3, mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  load: ({ dir, split }) => loadCifar10({ dir, split }),
};

/** `cifar-100`: the binary batches (`cifar-100-binary.tar.gz`, extracted); `--label-set fine|coarse`. */
export const cifar100Loader: DatasetLoader = {
  name: 'cifar-100',
  description: 'CIFAR-100, 32×32×3, 100 fine or 20 coarse classes (binary train.bin, test.bin)',
  defaults: { channels: 3, mean: [0.5071, 0.4865, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  load: ({ dir, split, labelSet }) => loadCifar100({ dir, split, ...(labelSet ? { labelSet } : {}) }),
};
