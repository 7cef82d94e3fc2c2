import { AnchorageError } from '@anchorage/loss-core';
import type * as tf from '@tensorflow/tfjs';
import { createRegistry } from '../registry';
import {
  type BackboneFactory,
  type BackboneInputContract,
  type BackboneOptionSpec,
  type BackboneOptions,
  type BackboneOwnOptions,
  checkBackboneOptions,
  checkInputContract,
} from './backbone';
import {
  cutModel,
  isModelFile,
  modelInputContract,
  OWN_MODEL_OPTIONS,
  readLayersModelFile,
} from './own-model';
import { createRefCnn } from './refcnn';
import { createResNet18 } from './resnet18';
import { createVit, vitPatch } from './vit';
import { registerVitLayers } from './vit-layers';

registerVitLayers();

/** The reference CNN of the paper's small-image experiments. */
export const refCnnFactory: BackboneFactory = {
  name: 'refcnn',
  description: 'conv32-pool-conv64-pool-conv128-gap-dense(d), ~93k + 129·d parameters',
  input: () => ({ minSize: 4 }),
  create: createRefCnn,
};

const resnetWidth = (fallback: number): BackboneOptionSpec => ({
  name: 'width',
  description: 'resnet: channel multiplier (stages 64·w … 512·w, multiples of 8); vit: token width',
  default: fallback,
  positive: true,
});

function makeResnetFactory(name: string, width: number, description: string): BackboneFactory {
  return {
    name,
    description,
    options: [resnetWidth(width)],
    input: () => ({ minSize: 8 }),
    create: (options, own) => createResNet18(options, Number(own.width)),
  };
}

/** ResNet-18 at full width (11.2M parameters). */
export const resNet18Factory = makeResnetFactory(
  'resnet18',
  1,
  'ResNet-18 ([2,2,2,2] basic blocks, batch norm; 3×3 stem up to 64×64, else 7×7/2 + max-pool), GAP, dense(d)',
);

/** ResNet-18 at a quarter of the channels (16…128): the preset for training on a CPU. */
export const resNet18CpuFactory = makeResnetFactory(
  'resnet18-cpu',
  0.25,
  'resnet18 at width 0.25 (16–128 channels): the CPU preset',
);

function makeVitFactory(
  name: string,
  defaults: { width: number; depth: number; heads: number; mlpRatio: number; pooling: 'class' | 'mean' },
  description: string,
): BackboneFactory {
  return {
    name,
    description,
    options: [
      {
        name: 'patch',
        description: 'vit: patch size in pixels (0: 4 up to 64×64, else 16)',
        default: 0,
        integer: true,
        min: 0,
      },
      { ...resnetWidth(defaults.width), integer: true },
      {
        name: 'depth',
        description: 'vit: encoder blocks',
        default: defaults.depth,
        integer: true,
        positive: true,
      },
      {
        name: 'heads',
        description: 'vit: attention heads',
        default: defaults.heads,
        integer: true,
        positive: true,
      },
      {
        name: 'mlpRatio',
        description: 'vit: MLP width ÷ token width',
        default: defaults.mlpRatio,
        positive: true,
      },
      {
        name: 'pooling',
        description: 'vit: class token or mean of the patch tokens',
        default: defaults.pooling,
        choices: ['class', 'mean'],
      },
    ],
    input: (own) => ({
      minSize: Number(own.patch) || 4,
      ...(Number(own.patch) > 0 ? { multipleOf: Number(own.patch) } : {}),
    }),
    create(options, own) {
      const [h, w] = options.inputShape;
      if (Number(own.width) % Number(own.heads) !== 0) {
        throw new AnchorageError(
          'INVALID_ARGUMENT',
          `vit: ${own.heads} heads do not divide the width ${own.width}`,
          {
            argument: 'heads',
            value: own.heads,
          },
        );
      }
      checkInputContract(
        name,
        { minSize: 1, multipleOf: vitPatch(Number(own.patch), h, w) },
        options.inputShape,
      );
      return createVit(options, {
        patch: Number(own.patch),
        width: Number(own.width),
        depth: Number(own.depth),
        heads: Number(own.heads),
        mlpRatio: Number(own.mlpRatio),
        pooling: own.pooling as 'class' | 'mean',
      });
    },
  };
}

/** The default vision transformer: small enough to train in minutes on two CPU cores. */
export const vitFactory = makeVitFactory(
  'vit',
  { width: 64, depth: 4, heads: 4, mlpRatio: 2, pooling: 'mean' },
  'vision transformer, 64 wide, 4 pre-norm blocks, 4 heads, MLP 2×, mean pooling, dense(d)',
);

/** ViT-Tiny (DeiT-Ti's shape): 192 wide, 12 blocks, 3 heads, MLP 4×, class token. */
export const vitTinyFactory = makeVitFactory(
  'vit-tiny',
  { width: 192, depth: 12, heads: 3, mlpRatio: 4, pooling: 'class' },
  'ViT-Tiny: 192 wide, 12 pre-norm blocks, 3 heads, MLP 4×, class token, dense(d)',
);

const factories = createRegistry<BackboneFactory>('backbone', [
  [refCnnFactory.name, refCnnFactory],
  [resNet18Factory.name, resNet18Factory],
  [resNet18CpuFactory.name, resNet18CpuFactory],
  [vitFactory.name, vitFactory],
  [vitTinyFactory.name, vitTinyFactory],
]);

/**
 * Adds (or replaces) a backbone under `factory.name`; returns a function that undoes it. Its
 * options become `train` flags. Workers of a data-parallel run receive the model built here
 * (topology and weights), so a backbone registered at run time trains on workers too, as long as
 * its layer classes are tfjs built-ins or registered with `tf.serialization.registerClass` in a
 * module the workers also load (a module that this package imports).
 */
export function registerBackbone(factory: BackboneFactory): () => void {
  return factories.register(factory.name, factory);
}

/** Names of the registered backbones, sorted. */
export function listBackbones(): string[] {
  return factories.list();
}

/** The factory registered under `name`, or a NOT_FOUND AnchorageError listing the known ones. */
export function getBackboneFactory(name: string): BackboneFactory {
  return factories.get(name);
}

/** The options of a backbone (or of a model file when `name` ends in `.json`). */
export function backboneOptionSpecs(name: string): readonly BackboneOptionSpec[] {
  return isModelFile(name) ? OWN_MODEL_OPTIONS : (factories.get(name).options ?? []);
}

function invalid(argument: string, value: unknown, rule: string): never {
  throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be ${rule}, got ${String(value)}`, {
    argument,
    value,
  });
}

function checkOption(backbone: string, spec: BackboneOptionSpec, value: unknown): number | string {
  const argument = `${backbone} option ${spec.name}`;
  if (typeof spec.default === 'string') {
    if (typeof value !== 'string') invalid(argument, value, 'a string');
    if (spec.choices !== undefined && !spec.choices.includes(value))
      invalid(argument, value, `one of ${spec.choices.join(', ')}`);
    return value;
  }
  if (typeof value !== 'number' || !Number.isFinite(value)) invalid(argument, value, 'a finite number');
  if (spec.integer && !Number.isInteger(value)) invalid(argument, value, 'an integer');
  if (spec.positive && value <= 0) invalid(argument, value, '> 0');
  if (spec.min !== undefined && value < spec.min) invalid(argument, value, `≥ ${spec.min}`);
  return value;
}

/**
 * A backbone's own options with its defaults filled in and every value checked; an option it does
 * not have is refused, naming the ones it has.
 */
export function resolveBackboneOptions(
  name: string,
  given: Readonly<Record<string, unknown>> = {},
): Record<string, number | string> {
  const specs = backboneOptionSpecs(name);
  const known = new Set(specs.map((s) => s.name));
  for (const key of Object.keys(given)) {
    if (given[key] !== undefined && !known.has(key)) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `backbone "${name}" has no option ${key}; its options: ${[...known].join(', ') || 'none'}`,
        { argument: key, value: given[key] },
      );
    }
  }
  const out: Record<string, number | string> = {};
  for (const spec of specs) out[spec.name] = checkOption(name, spec, given[spec.name] ?? spec.default);
  return out;
}

/** The input contract of a registered backbone with these options. */
export function backboneInputContract(name: string, own: BackboneOwnOptions = {}): BackboneInputContract {
  const factory = factories.get(name);
  return factory.input?.(resolveBackboneOptions(name, own)) ?? { minSize: 1 };
}

/**
 * Builds a freshly initialised registered backbone (a tfjs LayersModel: N×H×W×C → N×dim); its own
 * options (`width`, `patch`, …) go alongside. Images that do not fit its input contract are a
 * DIMENSION_MISMATCH AnchorageError.
 * @example
 * const model = createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 64, seed: 1 });
 * const small = createBackbone('resnet18', { inputShape: [32, 32, 3], dim: 64, seed: 1, width: 0.25 });
 */
export function createBackbone(
  name: string,
  options: BackboneOptions & Readonly<Record<string, unknown>>,
): tf.LayersModel {
  const factory = factories.get(name);
  const { inputShape, dim, seed, ...given } = options;
  checkBackboneOptions({ inputShape, dim, seed });
  const own = resolveBackboneOptions(name, given);
  checkInputContract(name, factory.input?.(own) ?? { minSize: 1 }, inputShape);
  return factory.create({ inputShape, dim, seed }, own);
}

/**
 * {@link createBackbone}, or, when `name` is a path ending in `.json`, the tfjs LayersModel in that
 * file (weights read from the files beside it) cut at `featureLayer` with an embedding layer of
 * `dim` units added; its fixed input must match `inputShape`.
 * @example
 * const model = await loadBackbone('models/mobilenet/model.json', { inputShape: [96, 96, 3], dim: 64, seed: 1 });
 */
export async function loadBackbone(
  name: string,
  options: BackboneOptions & Readonly<Record<string, unknown>>,
): Promise<tf.LayersModel> {
  if (!isModelFile(name)) return createBackbone(name, options);
  const { inputShape, dim, seed, ...given } = options;
  checkBackboneOptions({ inputShape, dim, seed });
  const own = resolveBackboneOptions(name, given);
  const source = await readLayersModelFile(name);
  try {
    checkInputContract(name, modelInputContract(source, name), inputShape);
    return cutModel(source, { dim, seed, featureLayer: String(own.featureLayer), path: name });
  } catch (error) {
    source.dispose();
    throw error;
  }
}
