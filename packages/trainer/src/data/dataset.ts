import { AnchorageError } from '@anchorage/loss-core';
import type { ImageList } from './image-cache';

/** Which half of a dataset to read. */
export type Split = 'train' | 'test';

/**
 * An in-memory labelled image set. Pixels stay uint8 (N×H×W×C, row-major, channels last) so that a
 * 60k-image set costs 47 MB rather than 188 MB; batches convert to float32 on the fly.
 */
export interface Dataset {
  readonly name: string;
  readonly split: Split;
  /** N×height×width×channels pixel bytes, 0–255. */
  readonly images: Uint8Array;
  /** N class indices in [0, classes.length). */
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /** Class names, indexed by label. */
  readonly classes: readonly string[];
}

/** Options of a format that has choices (each loader reads the ones it knows). */
export interface FormatOptions {
  /** CIFAR-100: `fine` (100 classes, default) or `coarse` (20 superclasses). */
  readonly labelSet?: 'fine' | 'coarse';
  /** Image folders without a split: the seeded, stratified share of each class held out as test. */
  readonly testFraction?: number;
  /** Seed of the test fraction's draw. */
  readonly seed?: number;
  /** SVHN: add `extra_32x32.mat` to the training split. */
  readonly extra?: boolean;
  /** Leave out a class folder without images instead of failing. */
  readonly skipBadImages?: boolean;
}

/** Options every dataset loader accepts. */
export interface LoadDatasetOptions extends FormatOptions {
  readonly name: string;
  /** The folder holding the dataset's files; defaults to the loader's `defaultDir()`. */
  readonly dir?: string;
  readonly split: Split;
}

/** What a format suggests when the user does not say: input size, channels, normalisation. */
export interface DatasetDefaults {
  /** Square side images are resized to (formats of mixed sizes need one). */
  readonly imageSize?: number;
  readonly channels?: number;
  /** Per-channel mean and std of `pixel / 255`. */
  readonly mean?: readonly number[];
  readonly std?: readonly number[];
}

/**
 * A dataset format. CIFAR-10/100 binary batches, SVHN `.mat`, Food-101, Tiny ImageNet and image
 * folders register themselves the same way, so `loadDataset` and the CLI's `--dataset` know them.
 */
export interface DatasetLoader {
  readonly name: string;
  /** One line for `--help` and errors. */
  readonly description: string;
  /** Where the files are when the user gives no folder, or undefined when there is no such place. */
  defaultDir?(): string | undefined;
  /** The format's suggested input size, channels and normalisation. */
  readonly defaults?: DatasetDefaults;
  /**
   * Reads one split: its pixels ({@link Dataset}), or the list of its image files
   * (`ImageList`) for formats stored as JPEG/PNG files, decoded and cached by `openSplit`.
   */
  load(options: FormatOptions & { dir: string; split: Split }): Promise<Dataset | ImageList>;
}

/** Pixels per image (height × width × channels). */
export function imageSize(dataset: Pick<Dataset, 'height' | 'width' | 'channels'>): number {
  return dataset.height * dataset.width * dataset.channels;
}

/** A new dataset holding the images at `indices`, in that order (pixels are copied). */
export function subset(dataset: Dataset, indices: ArrayLike<number>): Dataset {
  const size = imageSize(dataset);
  const count = dataset.labels.length;
  const images = new Uint8Array(indices.length * size);
  const labels = new Int32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    if (!Number.isInteger(index) || index < 0 || index >= count) {
      throw new AnchorageError('INVALID_ARGUMENT', `index ${index} is outside [0, ${count})`, {
        argument: 'indices',
        value: index,
      });
    }
    images.set(dataset.images.subarray(index * size, (index + 1) * size), i * size);
    labels[i] = dataset.labels[index]!;
  }
  return { ...dataset, images, labels };
}
