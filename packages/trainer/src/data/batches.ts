import { AnchorageError } from '@anchorage/loss-core';
import { type AugmentPolicy, augmentImage, augmentRandom } from './augment';
import { imageSize } from './dataset';
import { type ImageSet, isStreaming } from './split';

/**
 * Per-channel normalisation applied to pixels scaled to [0, 1]: x = (pixel / 255 − mean[c]) / std[c].
 * The model bundle records it so that inference applies the same transform.
 */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/** Pixels / 255, nothing else. */
export const UNIT_NORMALIZATION: Normalization = { mean: [0], std: [1] };

/** One batch: float32 images B×H×W×C, their labels and their dataset indices. */
export interface Batch {
  readonly images: Float32Array;
  readonly labels: Int32Array;
  readonly indices: Int32Array;
  /** B (the last batch may be smaller unless `dropLast`). */
  readonly size: number;
}

/** Options of {@link iterateBatches}. */
export interface BatchOptions {
  readonly batchSize: number;
  /** Visiting order (e.g. `epochOrder(n, rng)`); default 0..N-1. */
  readonly order?: Int32Array;
  /** Skip a final batch smaller than `batchSize` (default false). */
  readonly dropLast?: boolean;
  /** First batch to yield: resuming mid-epoch continues the same order at the same place. */
  readonly startBatch?: number;
  readonly normalization?: Normalization;
  /**
   * Training augmentation: each batch's draws come from `augmentRandom(seed, epoch, batch)`, so a
   * resumed run augments exactly as an uninterrupted one. Default none (evaluation never augments).
   */
  readonly augment?: { readonly policy: AugmentPolicy; readonly seed: number; readonly epoch: number };
}

/** Number of batches one pass over `size` items yields. */
export function batchCount(size: number, batchSize: number, dropLast = false): number {
  return dropLast ? Math.floor(size / batchSize) : Math.ceil(size / batchSize);
}

/**
 * Yields batches converted from uint8 to normalised float32 one batch at a time, so a 60k-image
 * set never exists as one float tensor. The yielded arrays are fresh per batch (safe to hand to
 * `tf.tensor4d`, which may keep them, or to post to a worker).
 * @example
 * for (const b of iterateBatches(train, { batchSize: 128, order: epochOrder(n, rng) }))
 *   tf.tidy(() => step(tf.tensor4d(b.images, [b.size, 28, 28, 1]), b.labels));
 */
export function* iterateBatches(dataset: ImageSet, options: BatchOptions): Generator<Batch> {
  const { batchSize, dropLast = false, startBatch = 0, normalization = UNIT_NORMALIZATION } = options;
  const count = dataset.labels.length;
  const order = options.order ?? Int32Array.from({ length: count }, (_, i) => i);
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `batchSize must be a positive integer, got ${batchSize}`, {
      argument: 'batchSize',
      value: batchSize,
    });
  }
  if (order.length !== count) {
    throw new AnchorageError('DIMENSION_MISMATCH', `order has ${order.length} entries for ${count} images`, {
      argument: 'order',
      value: order.length,
    });
  }
  const channels = dataset.channels;
  const { mean, std } = normalization;
  if (
    !(mean.length === 1 || mean.length === channels) ||
    mean.length !== std.length ||
    std.some((s) => !(s > 0))
  ) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `normalization needs 1 or ${channels} means and positive stds of the same count`,
      { argument: 'normalization', value: normalization },
    );
  }
  // x = pixel * scale[c] + shift[c], folded once so the inner loop is one multiply-add
  const scale = Float32Array.from({ length: channels }, (_, c) => 1 / (255 * std[c % std.length]!));
  const shift = Float32Array.from(
    { length: channels },
    (_, c) => -mean[c % mean.length]! / std[c % std.length]!,
  );
  const size = imageSize(dataset);
  const total = batchCount(count, batchSize, dropLast);
  const scratch = new Uint8Array(isStreaming(dataset) ? batchSize * size : 0);
  const augmenting = options.augment !== undefined && options.augment.policy !== 'none';
  const augmentedOut = new Uint8Array(augmenting ? batchSize * size : 0);
  for (let b = startBatch; b < total; b++) {
    const start = b * batchSize;
    const n = Math.min(batchSize, count - start);
    const images = new Float32Array(n * size);
    const labels = new Int32Array(n);
    const indices = order.slice(start, start + n);
    // a streamed split reads the batch's images into one scratch buffer, then converts the same way
    const streamed = isStreaming(dataset);
    if (streamed) dataset.readImages(indices, scratch);
    let pixels = streamed ? scratch : dataset.images;
    const augment = options.augment;
    if (augment !== undefined && augment.policy !== 'none') {
      const rng = augmentRandom(augment.seed, augment.epoch, b);
      const shape = { height: dataset.height, width: dataset.width, channels };
      for (let i = 0; i < n; i++) {
        const from = (streamed ? i : indices[i]!) * size;
        augmentImage(
          pixels.subarray(from, from + size),
          augmentedOut.subarray(i * size, (i + 1) * size),
          shape,
          augment.policy,
          rng,
        );
      }
      pixels = augmentedOut;
    }
    const fromAugmented = pixels === augmentedOut;
    for (let i = 0; i < n; i++) {
      const index = indices[i]!;
      labels[i] = dataset.labels[index]!;
      const src = (streamed || fromAugmented ? i : index) * size;
      const dst = i * size;
      if (channels === 1) {
        const s = scale[0]!;
        const t = shift[0]!;
        for (let p = 0; p < size; p++) images[dst + p] = pixels[src + p]! * s + t;
      } else if (channels === 3) {
        // unrolled per pixel: the same multiply-adds as below, without a modulo per value
        const [s0, s1, s2] = [scale[0]!, scale[1]!, scale[2]!];
        const [t0, t1, t2] = [shift[0]!, shift[1]!, shift[2]!];
        for (let p = 0; p < size; p += 3) {
          images[dst + p] = pixels[src + p]! * s0 + t0;
          images[dst + p + 1] = pixels[src + p + 1]! * s1 + t1;
          images[dst + p + 2] = pixels[src + p + 2]! * s2 + t2;
        }
      } else {
        for (let p = 0; p < size; p++) {
          const c = p % channels;
          images[dst + p] = pixels[src + p]! * scale[c]! + shift[c]!;
        }
      }
    }
    yield { images, labels, indices, size: n };
  }
}
