import { AnchorageError } from '@anchorage/loss-core';
import type * as tf from '@tensorflow/tfjs';
import { Random } from '../random';

/** What every backbone factory takes. */
export interface BackboneOptions {
  /** [height, width, channels] of one input image. */
  readonly inputShape: readonly [number, number, number];
  /** Embedding size d (the last layer's units). */
  readonly dim: number;
  /** Seeds every weight initialiser: the same seed gives the same initial weights. */
  readonly seed: number;
}

/** A named model family (`refcnn` now; `resnet18`, `vit` later) mapping images to d-dim embeddings. */
export interface BackboneFactory {
  readonly name: string;
  readonly description: string;
  create(options: BackboneOptions): tf.LayersModel;
}

/** A generator of distinct initialiser seeds derived from one model seed (one per layer, in order). */
export function seedStream(seed: number): () => number {
  const rng = new Random(seed);
  // tfjs seeds its initialisers through seedrandom, which takes any number; keep them 31-bit
  return () => rng.nextUint32() >>> 1;
}

/** Throws unless `options` are usable by a backbone factory. */
export function checkBackboneOptions(options: BackboneOptions): void {
  const { inputShape, dim, seed } = options;
  if (
    !Array.isArray(inputShape) ||
    inputShape.length !== 3 ||
    !inputShape.every((s) => Number.isInteger(s) && s > 0)
  ) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `inputShape must be [height, width, channels] positive integers`,
      {
        argument: 'inputShape',
        value: inputShape,
      },
    );
  }
  if (!Number.isInteger(dim) || dim < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `dim must be a positive integer, got ${dim}`, {
      argument: 'dim',
      value: dim,
    });
  }
  if (!Number.isFinite(seed)) {
    throw new AnchorageError('INVALID_ARGUMENT', `seed must be a finite number, got ${seed}`, {
      argument: 'seed',
      value: seed,
    });
  }
}
