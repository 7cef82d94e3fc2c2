import { AnchorageError } from '@anchorage/loss-core';
import { createRegistry } from '../registry';
import { cifar10Loader, cifar100Loader } from './cifar';
import { convertDataset, type InputOptions, targetGeometry } from './convert';
import {
  type Dataset,
  type DatasetDefaults,
  type DatasetLoader,
  type LoadDatasetOptions,
  subset,
} from './dataset';
import { food101Loader } from './food101';
import { type ImageCacheOptions, type ImageList, isImageList, openImageList } from './image-cache';
import { imageFolderLoader } from './image-folder';
import { fashionMnistLoader, mnistLoader } from './mnist';
import type { ImageSet } from './split';
import { svhnLoader } from './svhn';
import { tinyImageNetLoader } from './tiny-imagenet';

const loaders = createRegistry<DatasetLoader>('dataset', [
  [mnistLoader.name, mnistLoader],
  [fashionMnistLoader.name, fashionMnistLoader],
  [imageFolderLoader.name, imageFolderLoader],
  [cifar10Loader.name, cifar10Loader],
  [cifar100Loader.name, cifar100Loader],
  [svhnLoader.name, svhnLoader],
  [food101Loader.name, food101Loader],
  [tinyImageNetLoader.name, tinyImageNetLoader],
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

/** A registered format's suggested input size, channels and normalisation (none when unknown). */
export function datasetDefaults(name: string): DatasetDefaults {
  return loaders.list().includes(name) ? (loaders.get(name).defaults ?? {}) : {};
}

async function loadRaw(options: LoadDatasetOptions): Promise<Dataset | ImageList> {
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
  const { name: _, dir: __, ...rest } = options;
  return loader.load({ ...rest, dir });
}

/**
 * Loads one split of a registered dataset whose pixels come in memory (IDX, CIFAR, SVHN). Formats
 * stored as image files (image folders, Food-101, Tiny ImageNet) need a size: use {@link openSplit}.
 * @example
 * const train = await loadDataset({ name: 'fashion-mnist', split: 'train' });
 */
export async function loadDataset(options: LoadDatasetOptions): Promise<Dataset> {
  const result = await loadRaw(options);
  if (isImageList(result)) {
    throw new AnchorageError(
      'UNSUPPORTED',
      `dataset "${options.name}" is stored as image files: open it with openSplit (it decodes them to a size)`,
      { argument: 'name', value: options.name },
    );
  }
  return result;
}

/** True when `input` asks for anything other than the dataset's own images. */
export function changesInput(input: InputOptions | undefined): boolean {
  return input !== undefined && (input.imageSize !== undefined || input.channels !== undefined);
}

/** Options of {@link openSplit}. */
export interface OpenSplitOptions extends LoadDatasetOptions, ImageCacheOptions {
  /** `--image-size`, `--channels`, `--fit`; unset fields keep the dataset's own (or its format's default). */
  readonly input?: InputOptions;
  /**
   * Keeps only some images before any decoding or resizing (few-shot, `--limit`): given the labels
   * and the class count, returns the indices to keep, in order.
   */
  readonly pick?: (labels: Int32Array, classCount: number) => ArrayLike<number>;
}

function pickList(list: ImageList, indices: ArrayLike<number>): ImageList {
  const chosen = Array.from(indices);
  return {
    ...list,
    files: chosen.map((i) => list.files[i]!),
    labels: Int32Array.from(chosen, (i) => list.labels[i]!),
  };
}

/**
 * Opens one split of any registered dataset at the asked input size: in-memory formats are
 * converted in memory; image files are decoded (in parallel) into the on-disk cache and streamed
 * from it, so the split need not fit in memory.
 * @example
 * const train = await openSplit({ name: 'image-folder', dir: 'photos', split: 'train', input: { imageSize: 64 } });
 */
export async function openSplit(options: OpenSplitOptions): Promise<ImageSet> {
  let result = await loadRaw(options);
  const defaults = getDatasetLoader(options.name).defaults ?? {};
  if (options.pick) {
    const indices = options.pick(result.labels, result.classes.length);
    result = isImageList(result) ? pickList(result, indices) : subset(result, indices);
  }
  if (!isImageList(result)) {
    if (!changesInput(options.input)) return result;
    return convertDataset(result, targetGeometry(result, options.input!));
  }
  const size = options.input?.imageSize ?? defaults.imageSize ?? 64;
  const native = { height: size, width: size, channels: defaults.channels ?? 3 };
  return openImageList(result, targetGeometry(native, { ...options.input, imageSize: size }), options);
}
