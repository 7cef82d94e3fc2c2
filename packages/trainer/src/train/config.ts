import { AnchorageError } from '@anchorage/loss-core';
import {
  type AugmentPolicy,
  checkAugmentPolicy,
  checkInputOptions,
  datasetDefaults,
  type ImageFit,
  type Normalization,
} from '../data';
import { getLossFactory, resolveLossOptions } from '../losses/registry';
import { isModelFile } from '../models/own-model';
import { listBackbones, resolveBackboneOptions } from '../models/registry';

/** Everything that determines a training run; stored in every checkpoint. */
export interface TrainConfig {
  /** Registered dataset name (`mnist`, `fashion-mnist`, …). */
  dataset: string;
  /** Dataset folder; `undefined` uses the dataset's default folder. */
  data: string | undefined;
  /** Registered backbone name, or the path of a tfjs layers model (`….json`) to fine-tune. */
  backbone: string;
  /**
   * The backbone's own options (its defaults filled in): `width`, `patch`, … or `featureLayer` for
   * a model file; absent when it has none.
   */
  backboneOptions?: Record<string, number | string>;
  /** Keep the first `freeze` layers of the backbone fixed (`--freeze`); absent: none. */
  freeze?: number;
  /** Train the frozen layers too from this epoch on (`--unfreeze-after E`: after E epochs); absent: never. */
  unfreezeAfter?: number;
  /** Registered loss name (`cam`, `cross-entropy`, `center`, `contrastive`, `triplet`, `proxy-anchor`). */
  loss: string;
  /** The loss's own options (its factory's defaults filled in): CAM's `margin`, triplet's `margin`, … */
  lossOptions: Record<string, number | string>;
  epochs: number;
  batchSize: number;
  /** Adam learning rate of the backbone. */
  lr: number;
  /**
   * Adam learning rate of the loss's own variables (CAM's anchors, proxies, a classifier head),
   * which have their own optimiser; default the backbone's `lr` × the loss's `lrScale`.
   */
  lossLr: number;
  /** Embedding size d. */
  dim: number;
  seed: number;
  /** `auto`, `wasm`, `cpu`, `webgpu` or `tensorflow`. */
  backend: string;
  /** Few-shot: keep this many training images per class (seeded, stratified). */
  shots: number | undefined;
  /** Keep a seeded random subset of this many training images (after `shots`). */
  limit: number | undefined;
  /** Data-parallel worker threads (1 = train on the calling thread). */
  workers: number;
  /** Input normalisation: x = (pixel / 255 − mean) / std. */
  normalization: Normalization;
  /** Images are resized to imageSize × imageSize (`--image-size`); unset: the dataset's own size. */
  imageSize?: number;
  /** Images are converted to 1 (grey) or 3 (RGB) channels (`--channels`); unset: the dataset's own. */
  channels?: number;
  /** How images of another size are brought to `imageSize` (`--fit`); unset: `cover`. */
  fit?: ImageFit;
  /** CIFAR-100's labels: `fine` (default) or `coarse` (`--label-set`). */
  labelSet?: 'fine' | 'coarse';
  /** Image folders without a split: the seeded, stratified test share of each class (`--test-fraction`). */
  testFraction?: number;
  /** SVHN: train on `extra_32x32.mat` too (`--extra`). */
  extra?: boolean;
  /** Leave out unreadable images and empty class folders, counted, instead of failing (`--skip-bad-images`). */
  skipBadImages?: boolean;
  /** false: decode image files into a temporary file instead of the reusable cache (`--no-cache`). */
  cache?: boolean;
  /** Training augmentation (`--augment`); absent: none. Seeded by `seed`, the epoch and the batch. */
  augment?: AugmentPolicy;
}

/** The fields of a config that only some datasets read; absent when unset. */
const OPTIONAL_FIELDS = [
  'imageSize',
  'channels',
  'fit',
  'labelSet',
  'testFraction',
  'extra',
  'skipBadImages',
  'cache',
  'augment',
] as const;

/**
 * The normalisation a dataset suggests for the channels used (its format's mean and std, e.g.
 * CIFAR's), else the centring default.
 */
export function defaultNormalization(dataset: string, channels: number | undefined): Normalization {
  const d = datasetDefaults(dataset);
  const used = channels ?? d.channels;
  if (d.mean && d.std && used !== undefined && d.mean.length === used && d.std.length === used) {
    return { mean: [...d.mean], std: [...d.std] };
  }
  return DEFAULT_TRAIN_CONFIG.normalization;
}

/** Defaults of the CLI and of {@link resolveTrainConfig}; the loss's options default as its factory says. */
export const DEFAULT_TRAIN_CONFIG: Readonly<
  Omit<TrainConfig, 'dataset' | 'data' | 'lossOptions' | 'lossLr'>
> = Object.freeze({
  backbone: 'refcnn',
  loss: 'cam',
  epochs: 5,
  batchSize: 128,
  lr: 1e-3,
  dim: 64,
  seed: 1,
  backend: 'auto',
  shots: undefined,
  limit: undefined,
  workers: 1,
  // Centres pixels on [-1, 1]; any affine map works, the bundle records it for inference.
  normalization: Object.freeze({ mean: [0.5], std: [0.5] }),
});

/** A config as users give it: the dataset is required, everything else has a default. */
export type TrainConfigInput = Partial<Omit<TrainConfig, 'lossOptions' | 'backboneOptions'>> & {
  dataset: string;
  lossOptions?: Record<string, unknown>;
  backboneOptions?: Record<string, unknown>;
};

function fail(argument: string, value: unknown, rule: string): never {
  throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be ${rule}, got ${String(value)}`, {
    argument,
    value,
  });
}

function positiveInt(argument: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) fail(argument, value, 'a positive integer');
  return value;
}

function positive(argument: string, value: number): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0)
    fail(argument, value, 'a finite number > 0');
  return value;
}

/**
 * Fills in and checks the backbone's options, `freeze` and `unfreezeAfter` (absent when unset). A
 * backbone neither registered nor a model file keeps the options given; building it fails later.
 */
function resolveBackboneConfig(c: TrainConfig, given: Record<string, unknown> | undefined): void {
  if (typeof c.backbone !== 'string' || c.backbone === '')
    fail('backbone', c.backbone, 'a backbone name or a model.json path');
  const known = isModelFile(c.backbone) || listBackbones().includes(c.backbone);
  const options = known
    ? resolveBackboneOptions(c.backbone, given ?? {})
    : { ...(given as Record<string, number | string>) };
  if (Object.keys(options).length > 0) c.backboneOptions = options;
  else delete c.backboneOptions;
  if (c.freeze !== undefined && (!Number.isInteger(c.freeze) || c.freeze < 0))
    fail('freeze', c.freeze, 'an integer ≥ 0');
  if (c.freeze === 0 || c.freeze === undefined) delete c.freeze;
  if (c.unfreezeAfter !== undefined) {
    positiveInt('unfreezeAfter', c.unfreezeAfter);
    if (c.freeze === undefined) fail('unfreezeAfter', c.unfreezeAfter, 'given only with freeze (--freeze N)');
  } else delete c.unfreezeAfter;
}

/** Fills in the defaults and validates every field, throwing `AnchorageError` naming the bad one. */
export function resolveTrainConfig(input: TrainConfigInput): TrainConfig {
  const { lossOptions, lossLr, backboneOptions, ...rest } = input;
  const base = {
    ...DEFAULT_TRAIN_CONFIG,
    data: undefined,
    ...rest,
    normalization: rest.normalization ?? defaultNormalization(input.dataset, input.channels),
  };
  if (typeof base.dataset !== 'string' || base.dataset === '')
    fail('dataset', base.dataset, 'a dataset name');
  const factory = getLossFactory(base.loss);
  positive('lr', base.lr);
  const c: TrainConfig = {
    ...base,
    lossOptions: resolveLossOptions(base.loss, lossOptions ?? {}),
    lossLr: lossLr ?? base.lr * factory.lrScale,
  };
  positiveInt('epochs', c.epochs);
  positiveInt('batchSize', c.batchSize);
  positive('lossLr', c.lossLr);
  positiveInt('dim', c.dim);
  if (!Number.isInteger(c.seed)) fail('seed', c.seed, 'an integer');
  if (c.shots !== undefined) positiveInt('shots', c.shots);
  if (c.limit !== undefined) positiveInt('limit', c.limit);
  positiveInt('workers', c.workers);
  resolveBackboneConfig(c, backboneOptions);
  checkInputOptions(c);
  if (c.augment !== undefined) checkAugmentPolicy(c.augment);
  if (c.labelSet !== undefined && c.labelSet !== 'fine' && c.labelSet !== 'coarse')
    fail('labelSet', c.labelSet, '"fine" or "coarse"');
  if (c.testFraction !== undefined && !(c.testFraction > 0 && c.testFraction < 1))
    fail('testFraction', c.testFraction, 'a number in (0, 1)');
  // unset optional fields stay absent so that a checkpoint's state.json records only what was asked
  for (const key of OPTIONAL_FIELDS) if (c[key] === undefined) delete c[key];
  return c;
}
