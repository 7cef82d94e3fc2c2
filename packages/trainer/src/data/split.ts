import { closeSync, openSync, readSync, rmSync } from 'node:fs';
import { AnchorageError } from '@anchorage/loss-core';
import { type Dataset, imageSize, type Split, subset } from './dataset';

/**
 * A split whose pixels are read on demand (from the decoded-image cache on disk) instead of held
 * in memory: only labels and class names stay resident, so a folder of any size trains in bounded
 * memory.
 */
export interface StreamingSplit {
  readonly name: string;
  readonly split: Split;
  /** N class indices in [0, classes.length). */
  readonly labels: Int32Array;
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly classes: readonly string[];
  /** Copies the images at `indices`, in that order, into `target` (indices.length × image bytes). */
  readImages(indices: ArrayLike<number>, target: Uint8Array): void;
  /** Releases the file behind the split (a no-op for a view). */
  close(): void;
}

/** A split in memory ({@link Dataset}) or streamed from disk ({@link StreamingSplit}). */
export type ImageSet = Dataset | StreamingSplit;

/** True when the split streams its pixels from disk. */
export function isStreaming(set: ImageSet): set is StreamingSplit {
  return typeof (set as StreamingSplit).readImages === 'function';
}

function checkIndex(index: number, count: number): void {
  if (!Number.isInteger(index) || index < 0 || index >= count) {
    throw new AnchorageError('INVALID_ARGUMENT', `index ${index} is outside [0, ${count})`, {
      argument: 'indices',
      value: index,
    });
  }
}

/** Copies the images at `indices` of any split into `target` (indices.length × image bytes). */
export function readImages(set: ImageSet, indices: ArrayLike<number>, target: Uint8Array): void {
  if (isStreaming(set)) {
    set.readImages(indices, target);
    return;
  }
  const size = imageSize(set);
  const count = set.labels.length;
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i]!;
    checkIndex(index, count);
    target.set(set.images.subarray(index * size, (index + 1) * size), i * size);
  }
}

/** Every image of a split in one array (N × image bytes): for small splits and baselines only. */
export function allImages(set: ImageSet): Uint8Array {
  if (!isStreaming(set)) return set.images;
  const out = new Uint8Array(set.labels.length * imageSize(set));
  set.readImages(
    Int32Array.from({ length: set.labels.length }, (_, i) => i),
    out,
  );
  return out;
}

/** The split restricted to `indices`, in that order: a copy for a dataset, a view for a stream. */
export function subsetSplit(set: Dataset, indices: ArrayLike<number>): Dataset;
export function subsetSplit(set: ImageSet, indices: ArrayLike<number>): ImageSet;
export function subsetSplit(set: ImageSet, indices: ArrayLike<number>): ImageSet {
  if (!isStreaming(set)) return subset(set, indices);
  const count = set.labels.length;
  const map = Int32Array.from(indices);
  for (const index of map) checkIndex(index, count);
  const labels = Int32Array.from(map, (i) => set.labels[i]!);
  return {
    name: set.name,
    split: set.split,
    labels,
    height: set.height,
    width: set.width,
    channels: set.channels,
    classes: set.classes,
    readImages(inner, target) {
      const outer = new Int32Array(inner.length);
      for (let i = 0; i < inner.length; i++) {
        checkIndex(inner[i]!, map.length);
        outer[i] = map[inner[i]!]!;
      }
      set.readImages(outer, target);
    },
    close: () => {},
  };
}

/**
 * A streaming split over a raw file of N images (N × height × width × channels bytes, the
 * decoded-image cache), read with positioned reads. `removeOnClose` deletes the file on close.
 */
export function fileSplit(
  path: string,
  info: Omit<StreamingSplit, 'readImages' | 'close'>,
  options: { removeOnClose?: boolean } = {},
): StreamingSplit {
  const size = imageSize(info);
  const count = info.labels.length;
  let fd: number | undefined = openSync(path, 'r');
  return {
    ...info,
    readImages(indices, target) {
      if (fd === undefined)
        throw new AnchorageError('INVALID_ARGUMENT', `${path} was closed`, { argument: 'split' });
      for (let i = 0; i < indices.length; i++) {
        const index = indices[i]!;
        checkIndex(index, count);
        let done = 0;
        while (done < size) {
          const n = readSync(fd, target, i * size + done, size - done, index * size + done);
          if (n === 0) {
            throw new AnchorageError('CORRUPT_FILE', `${path} ends inside image ${index}`, {
              argument: 'file',
              value: path,
            });
          }
          done += n;
        }
      }
    },
    close() {
      if (fd === undefined) return;
      closeSync(fd);
      fd = undefined;
      if (options.removeOnClose) rmSync(path, { force: true });
    },
  };
}
