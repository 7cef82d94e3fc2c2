import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { Dataset, DatasetLoader, Split } from './dataset';
import { type MatArray, readMat } from './mat';

/** SVHN's class names, by label: the digits, 0 being the files' label 10. */
export const SVHN_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

function variable(arrays: Map<string, MatArray>, name: string, path: string): MatArray {
  const array = arrays.get(name);
  if (array === undefined) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${path} has no numeric variable "${name}" (it has: ${[...arrays.keys()].join(', ') || 'none'})`,
      { argument: 'file', value: path },
    );
  }
  return array;
}

/**
 * Reads one SVHN cropped-digits file (`*_32x32.mat`): `X` is 32×32×3×N uint8 (column-major),
 * `y` is N×1 with 1–9 for those digits and 10 for digit 0. Returns channels-last images and
 * labels 0–9; a wrong variable, shape or label throws naming the file.
 */
export async function readSvhnFile(path: string): Promise<{ images: Uint8Array; labels: Int32Array }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read the SVHN file ${path}`, {
      argument: 'data',
      value: path,
      cause,
    });
  }
  const arrays = readMat(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
  const x = variable(arrays, 'X', path);
  const y = variable(arrays, 'y', path);
  const [h, w, c, n = 1] = x.dims;
  if (x.dims.length > 4 || h !== 32 || w !== 32 || c !== 3) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${path}: X is [${x.dims.join(', ')}], expected [32, 32, 3, N]`,
      {
        argument: 'file',
        value: path,
      },
    );
  }
  if (y.data.length !== n) {
    throw new AnchorageError('CORRUPT_FILE', `${path}: y holds ${y.data.length} labels for ${n} images`, {
      argument: 'file',
      value: path,
    });
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i]!;
    if (!Number.isInteger(v) || v < 1 || v > 10) {
      throw new AnchorageError('CORRUPT_FILE', `${path}: y(${i + 1}) = ${v}, outside 1..10`, {
        argument: 'file',
        value: path,
      });
    }
    labels[i] = v % 10;
  }
  // X(row, col, channel, n) column-major → images[n][row][col][channel]
  const images = new Uint8Array(n * 3072);
  const data = x.data;
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < 3; ch++)
      for (let col = 0; col < 32; col++)
        for (let row = 0; row < 32; row++) {
          images[i * 3072 + (row * 32 + col) * 3 + ch] = data[row + 32 * col + 1024 * ch + 3072 * i]!;
        }
  return { images, labels };
}

/** SVHN cropped digits: `train_32x32.mat` (plus `extra_32x32.mat` with `extra`) or `test_32x32.mat`. */
export async function loadSvhn(options: { dir: string; split: Split; extra?: boolean }): Promise<Dataset> {
  const names =
    options.split === 'test'
      ? ['test_32x32.mat']
      : ['train_32x32.mat', ...(options.extra ? ['extra_32x32.mat'] : [])];
  const parts = [];
  for (const name of names) parts.push(await readSvhnFile(join(options.dir, name)));
  const count = parts.reduce((a, p) => a + p.labels.length, 0);
  const images = new Uint8Array(count * 3072);
  const labels = new Int32Array(count);
  let at = 0;
  for (const part of parts) {
    images.set(part.images, at * 3072);
    labels.set(part.labels, at);
    at += part.labels.length;
  }
  return {
    name: 'svhn',
    split: options.split,
    images,
    labels,
    height: 32,
    width: 32,
    channels: 3,
    classes: SVHN_CLASSES,
  };
}

/** `svhn`: the cropped-digit `.mat` files; `--extra` adds `extra_32x32.mat` to training. */
export const svhnLoader: DatasetLoader = {
  name: 'svhn',
  description:
    'SVHN cropped digits, 32×32×3, 10 classes (train_32x32.mat, test_32x32.mat, optional extra_32x32.mat)',
  defaults: { channels: 3, mean: [0.4377, 0.4438, 0.4728], std: [0.198, 0.201, 0.197] },
  load: ({ dir, split, extra }) => loadSvhn({ dir, split, ...(extra ? { extra } : {}) }),
};
