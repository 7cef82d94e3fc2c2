import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Random } from '@anchorage/loss-core';
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;

/** Seeded numbers in [0, 1) (loss-core's generator) so fixtures are the same on every run. */
export function seeded(seed: number): () => number {
  const rng = new Random(seed);
  return () => rng.nextFloat();
}

/**
 * An ONNX image model around `nodes`: input `image` NHWC (dynamic batch) of `inputType`, output
 * `embeddings` [batch, dim], opset 17.
 */
export function imageModel(options: {
  name: string;
  producer: string;
  nodes: Record<string, unknown>[];
  initializer: Record<string, unknown>[];
  height: number;
  width: number;
  channels: number;
  dim: number;
  inputType?: 'float32' | 'uint8';
}): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const { height, width, channels, dim } = options;
  const model = onnx.ModelProto.create({
    irVersion: 8,
    producerName: options.producer,
    opsetImport: [{ domain: '', version: 17 }],
    graph: {
      name: options.name,
      node: options.nodes,
      initializer: options.initializer,
      input: [
        {
          name: 'image',
          type: {
            tensorType: {
              elemType: options.inputType === 'uint8' ? T.UINT8 : T.FLOAT,
              shape: {
                dim: [
                  { dimParam: 'batch' },
                  { dimValue: height },
                  { dimValue: width },
                  { dimValue: channels },
                ],
              },
            },
          },
        },
      ],
      output: [
        {
          name: 'embeddings',
          type: {
            tensorType: { elemType: T.FLOAT, shape: { dim: [{ dimParam: 'batch' }, { dimValue: dim }] } },
          },
        },
      ],
    },
  });
  return onnx.ModelProto.encode(model).finish();
}

/**
 * A linear image embedder as ONNX: NHWC input (dynamic batch) → Reshape [-1, H·W·C] → MatMul with
 * `weights` (H·W·C × dim) → `embeddings`. `inputType: 'uint8'` adds a Cast first.
 */
export function linearModel(options: {
  height: number;
  width: number;
  channels: number;
  dim: number;
  weights: Float32Array;
  inputType?: 'float32' | 'uint8';
}): Uint8Array {
  const { height, width, channels, dim, weights } = options;
  const size = height * width * channels;
  const T = onnx.TensorProto.DataType;
  const inputType = options.inputType ?? 'float32';
  const nodes: Record<string, unknown>[] = [];
  let x = 'image';
  if (inputType === 'uint8') {
    nodes.push({
      opType: 'Cast',
      input: ['image'],
      output: ['image_f'],
      attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT }],
    });
    x = 'image_f';
  }
  nodes.push({ opType: 'Reshape', input: [x, 'shape'], output: ['flat'] });
  nodes.push({ opType: 'MatMul', input: ['flat', 'weights'], output: ['embeddings'] });
  const shape = new BigInt64Array([-1n, BigInt(size)]);
  return imageModel({
    name: 'linear',
    producer: 'anchorage-test',
    nodes,
    initializer: [
      { name: 'shape', dims: [2], dataType: T.INT64, rawData: new Uint8Array(shape.buffer) },
      {
        name: 'weights',
        dims: [size, dim],
        dataType: T.FLOAT,
        rawData: new Uint8Array(weights.buffer, weights.byteOffset, weights.byteLength),
      },
    ],
    height,
    width,
    channels,
    dim,
    inputType,
  });
}

/** What `writeBundle` wrote. */
export interface TestBundle {
  dir: string;
  dim: number;
  classes: string[];
  anchors: Float32Array;
  /** H·W·C × dim, when a model was written. */
  weights?: Float32Array;
  input?: { height: number; width: number; channels: 1 | 3 };
}

/**
 * Writes a model bundle folder: anchors spread on the axes (anchor c = 10·e_(c mod dim), sign
 * flipped past dim), and with `model` a linear `model.onnx` with seeded weights.
 */
export function writeBundle(
  dir: string,
  options: {
    dim: number;
    classes: number;
    model?: { height: number; width: number; channels: 1 | 3; inputType?: 'float32' | 'uint8' };
    seed?: number;
  },
): TestBundle {
  const { dim } = options;
  mkdirSync(dir, { recursive: true });
  const classes = Array.from({ length: options.classes }, (_, c) => `class-${c}`);
  const anchors = new Float32Array(options.classes * dim);
  for (let c = 0; c < options.classes; c++) anchors[c * dim + (c % dim)] = c < dim ? 10 : -10;
  const rows = classes.map((_, c) => Array.from(anchors.subarray(c * dim, (c + 1) * dim)));
  const manifest: Record<string, unknown> = { formatVersion: 1, dim, classes };
  const bundle: TestBundle = { dir, dim, classes, anchors };
  if (options.model) {
    const { height, width, channels } = options.model;
    manifest.input = { height, width, channels, mean: [0], std: [1] };
    const rand = seeded(options.seed ?? 7);
    const weights = Float32Array.from({ length: height * width * channels * dim }, () => (rand() - 0.5) / 64);
    writeFileSync(join(dir, 'model.onnx'), linearModel({ ...options.model, dim, weights }));
    bundle.weights = weights;
    bundle.input = { height, width, channels };
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  writeFileSync(join(dir, 'anchors.json'), JSON.stringify({ dim, anchors: rows }));
  return bundle;
}

/** The linear model's embedding of raw NHWC pixels, computed in float64 (the test's reference). */
export function linearEmbedding(pixels: Uint8Array, weights: Float32Array, dim: number): Float64Array {
  const out = new Float64Array(dim);
  for (let i = 0; i < pixels.length; i++) {
    for (let j = 0; j < dim; j++) out[j]! += pixels[i]! * weights[i * dim + j]!;
  }
  return out;
}
