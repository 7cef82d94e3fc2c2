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

/** A backbone's own option (`width`, `patch`, …): becomes a `train` flag and a config field. */
export interface BackboneOptionSpec {
  /** camelCase; the flag is its kebab-case form (`featureLayer` → `--feature-layer`). */
  readonly name: string;
  readonly description: string;
  readonly default: number | string;
  /** Allowed strings; absent for numeric options. */
  readonly choices?: readonly string[];
  /** Numeric options: must be an integer. */
  readonly integer?: boolean;
  /** Numeric options: must be > 0. */
  readonly positive?: boolean;
  /** Numeric options: must be ≥ min. */
  readonly min?: number;
}

/** The images a backbone accepts: checked against the dataset before anything is built. */
export interface BackboneInputContract {
  /** Accepted channel counts; absent: any. */
  readonly channels?: readonly number[];
  /** Smallest height and width. */
  readonly minSize: number;
  /** Height and width must be multiples of this (a ViT's patch size). */
  readonly multipleOf?: number;
  /** Exactly this height and width (a loaded model with a fixed input). */
  readonly size?: readonly [number, number];
}

/** A backbone's own options, defaults filled in and checked. */
export type BackboneOwnOptions = Readonly<Record<string, number | string>>;

/** A named model family mapping N×H×W×C images to N×d embeddings. */
export interface BackboneFactory {
  readonly name: string;
  readonly description: string;
  /** Its own options; none when absent. */
  readonly options?: readonly BackboneOptionSpec[];
  /** The input contract for these options; absent: any channels, at least 1×1. */
  input?(own: BackboneOwnOptions): BackboneInputContract;
  create(options: BackboneOptions, own: BackboneOwnOptions): tf.LayersModel;
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

/**
 * Throws a DIMENSION_MISMATCH AnchorageError naming the backbone, the images and the rule they
 * break, unless `inputShape` fits `contract`.
 */
export function checkInputContract(
  backbone: string,
  contract: BackboneInputContract,
  inputShape: readonly [number, number, number],
): void {
  const [h, w, c] = inputShape;
  const fail = (rule: string): never => {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `backbone "${backbone}" does not take ${h}×${w}×${c} images: ${rule}`,
      { argument: 'backbone', value: { backbone, inputShape: [h, w, c] } },
    );
  };
  if (contract.channels !== undefined && !contract.channels.includes(c))
    fail(`it needs ${contract.channels.join(' or ')} channel(s)`);
  if (contract.size !== undefined && (contract.size[0] !== h || contract.size[1] !== w))
    fail(`it needs ${contract.size[0]}×${contract.size[1]} images (resize them with --image-size)`);
  if (h < contract.minSize || w < contract.minSize)
    fail(`it needs at least ${contract.minSize}×${contract.minSize} (resize them with --image-size)`);
  const m = contract.multipleOf;
  if (m !== undefined && (h % m !== 0 || w % m !== 0))
    fail(`height and width must be multiples of ${m} (the patch size)`);
}
