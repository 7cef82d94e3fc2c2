import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { type BackboneInputContract, type BackboneOptionSpec, seedStream } from './backbone';

/** Whether a `--backbone` value names a model file (`….json`) rather than a registered backbone. */
export function isModelFile(backbone: string): boolean {
  return backbone.toLowerCase().endsWith('.json');
}

/** The options of a backbone read from a model file. */
export const OWN_MODEL_OPTIONS: readonly BackboneOptionSpec[] = [
  {
    name: 'featureLayer',
    description:
      'model file: the layer whose output feeds the embedding layer (default: the last pooling or flatten layer)',
    default: '',
  },
];

interface ModelJson {
  format?: string;
  modelTopology?: unknown;
  weightsManifest?: { paths: string[]; weights: tf.io.WeightsManifestEntry[] }[];
}

/**
 * Reads a tfjs LayersModel from a `model.json` and the weight files its manifest lists (paths
 * relative to it). Nothing is downloaded. A missing file is NOT_FOUND, an unreadable one
 * CORRUPT_FILE, a graph model UNSUPPORTED (it has no layers to fine-tune).
 */
export async function readLayersModelFile(path: string): Promise<tf.LayersModel> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read the model file ${path}`, {
      argument: 'backbone',
      value: path,
      cause,
    });
  }
  let json: ModelJson;
  try {
    json = JSON.parse(text) as ModelJson;
  } catch (cause) {
    throw new AnchorageError('CORRUPT_FILE', `${path} is not JSON`, {
      argument: 'backbone',
      value: path,
      cause,
    });
  }
  if (json.format === 'graph-model') {
    throw new AnchorageError(
      'UNSUPPORTED',
      `${path} is a tfjs graph model, which has no layers to fine-tune; give a layers model (format "layers-model")`,
      { argument: 'backbone', value: path },
    );
  }
  if (
    typeof json.modelTopology !== 'object' ||
    json.modelTopology === null ||
    !Array.isArray(json.weightsManifest)
  ) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${path} is not a tfjs layers model (no modelTopology or weightsManifest)`,
      {
        argument: 'backbone',
        value: path,
      },
    );
  }
  const dir = dirname(resolve(path));
  const buffers: ArrayBuffer[] = [];
  for (const group of json.weightsManifest) {
    for (const file of group.paths) {
      const at = resolve(dir, file);
      try {
        const bytes = await readFile(at);
        buffers.push(
          bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
        );
      } catch (cause) {
        throw new AnchorageError('NOT_FOUND', `cannot read ${at}, a weight file of ${path}`, {
          argument: 'backbone',
          value: at,
          cause,
        });
      }
    }
  }
  try {
    return await tf.loadLayersModel(
      tf.io.fromMemory({
        modelTopology: json.modelTopology as object,
        weightSpecs: json.weightsManifest.flatMap((g) => g.weights),
        weightData: tf.io.concatenateArrayBuffers(buffers),
      }),
    );
  } catch (cause) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `cannot build the model in ${path}: ${(cause as Error).message}`,
      {
        argument: 'backbone',
        value: path,
        cause,
      },
    );
  }
}

/** The input contract of a loaded model: its fixed height, width and channels. */
export function modelInputContract(model: tf.LayersModel, path: string): BackboneInputContract {
  const shape = model.inputs[0]?.shape ?? [];
  const [, h, w, c] = shape;
  if (model.inputs.length !== 1 || shape.length !== 4 || ![h, w, c].every((s) => typeof s === 'number')) {
    throw new AnchorageError(
      'UNSUPPORTED',
      `${path}: the model must have one N×H×W×C input of fixed size (has ${JSON.stringify(model.inputs.map((i) => i.shape))})`,
      { argument: 'backbone', value: path },
    );
  }
  return { channels: [c as number], minSize: 1, size: [h as number, w as number] };
}

const POOLING = /Pooling|Flatten/;

/**
 * The user's model cut at a layer, with an embedding layer (dense, d units, Glorot-uniform seeded)
 * on top: `featureLayer` names the layer (default: the last pooling or flatten layer); a feature
 * map of rank > 2 is globally average-pooled (`feature_pool`) first. Layers after the cut are
 * disposed. The result shares (owns) the source's layers.
 */
export function cutModel(
  source: tf.LayersModel,
  options: { dim: number; seed: number; featureLayer: string; path: string },
): tf.LayersModel {
  const { dim, seed, featureLayer, path } = options;
  let layer: tf.layers.Layer | undefined;
  if (featureLayer !== '') {
    layer = source.layers.find((l) => l.name === featureLayer);
    if (layer === undefined) {
      throw new AnchorageError(
        'NOT_FOUND',
        `${path} has no layer "${featureLayer}"; its layers: ${source.layers.map((l) => l.name).join(', ')}`,
        { argument: 'featureLayer', value: featureLayer },
      );
    }
  } else {
    layer = [...source.layers].reverse().find((l) => POOLING.test(l.getClassName()));
    if (layer === undefined) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `${path} has no pooling or flatten layer: name the feature layer with --feature-layer (its layers: ${source.layers.map((l) => l.name).join(', ')})`,
        { argument: 'featureLayer', value: featureLayer },
      );
    }
  }
  const names = new Set(source.layers.map((l) => l.name));
  const unique = (base: string) => {
    let name = base;
    for (let i = 1; names.has(name); i++) name = `${base}_${i}`;
    return name;
  };
  let features = layer.getOutputAt(0) as tf.SymbolicTensor;
  if (features.shape.length === 4) {
    features = tf.layers
      .globalAveragePooling2d({ name: unique('feature_pool') })
      .apply(features) as tf.SymbolicTensor;
  } else if (features.shape.length !== 2) {
    features = tf.layers.flatten({ name: unique('feature_flatten') }).apply(features) as tf.SymbolicTensor;
  }
  const embedding = tf.layers.dense({
    name: unique('embedding'),
    units: dim,
    kernelInitializer: tf.initializers.glorotUniform({ seed: seedStream(seed)() }),
    biasInitializer: 'zeros',
  });
  const model = tf.model({
    name: source.name,
    inputs: source.inputs,
    outputs: embedding.apply(features) as tf.SymbolicTensor,
  });
  const kept = new Set(model.layers);
  for (const l of source.layers) if (!kept.has(l)) l.dispose();
  return model;
}
