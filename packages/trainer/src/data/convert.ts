import { AnchorageError } from '@anchorage/loss-core';
import { type Dataset, imageSize } from './dataset';
import { fitImage, IMAGE_FITS, type ImageFit, type ImageGeometry } from './fit';

/** What the user asks of a dataset's images; unset fields keep the dataset's own. */
export interface InputOptions {
  /** Square side in pixels (`--image-size`). */
  readonly imageSize?: number;
  /** 1 (grey) or 3 (RGB) (`--channels`). */
  readonly channels?: number;
  /** How images of another size are brought to `imageSize` (`--fit`); default `cover`. */
  readonly fit?: ImageFit;
}

/** Checks the input options, throwing `AnchorageError` naming the bad one. */
export function checkInputOptions(options: InputOptions): void {
  const { imageSize: size, channels, fit } = options;
  if (size !== undefined && (!Number.isInteger(size) || size < 1 || size > 4096)) {
    throw new AnchorageError('INVALID_ARGUMENT', `imageSize must be an integer in [1, 4096], got ${size}`, {
      argument: 'imageSize',
      value: size,
    });
  }
  if (channels !== undefined && channels !== 1 && channels !== 3) {
    throw new AnchorageError('INVALID_ARGUMENT', `channels must be 1 or 3, got ${channels}`, {
      argument: 'channels',
      value: channels,
    });
  }
  if (fit !== undefined && !IMAGE_FITS.includes(fit)) {
    throw new AnchorageError('INVALID_ARGUMENT', `fit must be one of ${IMAGE_FITS.join(', ')}, got ${fit}`, {
      argument: 'fit',
      value: fit,
    });
  }
}

/** The geometry a dataset of `native` size is converted to under `options`. */
export function targetGeometry(
  native: Pick<Dataset, 'height' | 'width' | 'channels'>,
  options: InputOptions,
): ImageGeometry {
  checkInputOptions(options);
  return {
    height: options.imageSize ?? native.height,
    width: options.imageSize ?? native.width,
    channels: options.channels ?? native.channels,
    fit: options.fit ?? 'cover',
  };
}

/**
 * Runs `work(i)` for i in [0, count) with at most `concurrency` calls in flight (sharp decodes on
 * libuv's thread pool, so a few in flight keep every core busy).
 */
export async function forEachConcurrent(
  count: number,
  concurrency: number,
  work: (index: number) => Promise<void>,
): Promise<void> {
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < count) {
      const i = next++;
      await work(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, lane));
}

/**
 * A copy of an in-memory dataset converted to `geometry` (resized by its fit policy, grey ↔ RGB);
 * the dataset itself when it already has that size and channel count.
 */
export async function convertDataset(dataset: Dataset, geometry: ImageGeometry): Promise<Dataset> {
  const { height, width, channels } = geometry;
  if (dataset.height === height && dataset.width === width && dataset.channels === channels) return dataset;
  const count = dataset.labels.length;
  const from = imageSize(dataset);
  const to = height * width * channels;
  const images = new Uint8Array(count * to);
  await forEachConcurrent(count, 8, async (i) => {
    const data = dataset.images.subarray(i * from, (i + 1) * from);
    const raw = { data, height: dataset.height, width: dataset.width, channels: dataset.channels };
    images.set(await fitImage(raw, geometry), i * to);
  });
  return { ...dataset, images, height, width, channels };
}
