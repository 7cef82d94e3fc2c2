import { AnchorageError } from '@anchorage/loss-core';
import { createRegistry } from '../registry';
import { convertDataset, type InputOptions, targetGeometry } from './convert';
import type { Dataset, DatasetLoader, LoadDatasetOptions } from './dataset';
import { fashionMnistLoader, mnistLoader } from './mnist';

const loaders = createRegistry<DatasetLoader>('dataset', [
  [mnistLoader.name, mnistLoader],
  [fashionMnistLoader.name, fashionMnistLoader],
]);

/** Adds (or replaces) a dataset format under `loader.name`; returns a function that undoes it. */
export function registerDataset(loader: DatasetLoader): () => void {
  return loaders.register(loader.name, loader);
}

/** Names of the registered dataset formats, sorted. */
export function listDatasets(): string[] {
  return loaders.list();
}

/** The loader registered under `name`, or a `NOT_FOUND` AnchorageError listing the known ones. */
export function getDatasetLoader(name: string): DatasetLoader {
  return loaders.get(name);
}

/**
 * Loads one split of a registered dataset.
 * @example
 * const train = await loadDataset({ name: 'fashion-mnist', split: 'train' });
 */
export async function loadDataset(options: LoadDatasetOptions): Promise<Dataset> {
  const loader = getDatasetLoader(options.name);
  if (options.split !== 'train' && options.split !== 'test') {
    throw new AnchorageError('INVALID_ARGUMENT', `split must be "train" or "test", got "${options.split}"`, {
      argument: 'split',
      value: options.split,
    });
  }
  const dir = options.dir ?? loader.defaultDir?.();
  if (dir === undefined) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `dataset "${options.name}" has no default folder: pass dir`,
      {
        argument: 'dir',
        value: dir,
      },
    );
  }
  return loader.load({ dir, split: options.split });
}

/** True when `input` asks for anything other than the dataset's own images. */
export function changesInput(input: InputOptions | undefined): boolean {
  return input !== undefined && (input.imageSize !== undefined || input.channels !== undefined);
}

/**
 * Loads one split and converts its images to `input` (`--image-size`, `--channels`, `--fit`); the
 * dataset's own images when `input` asks for nothing.
 * @example
 * const train = await loadSplit({ name: 'fashion-mnist', split: 'train', input: { imageSize: 32, channels: 3 } });
 */
export async function loadSplit(options: LoadDatasetOptions & { input?: InputOptions }): Promise<Dataset> {
  const dataset = await loadDataset(options);
  if (!changesInput(options.input)) return dataset;
  return convertDataset(dataset, targetGeometry(dataset, options.input!));
}
