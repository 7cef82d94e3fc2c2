import { Random } from '@anchorage/loss-core';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageEmbedder } from './embedder';

const { onnx } = onnxProto;
const [H, W, C, DIM] = [2, 3, 3, 4];
const SIZE = H * W * C;
const rng = new Random(5);
const weights = Float32Array.from({ length: SIZE * DIM }, () => rng.nextFloat() - 0.5);
const images = Uint8Array.from({ length: 5 * SIZE }, (_, i) => (i * 67 + 3) % 256);

/** image (NHWC, dynamic batch) → flatten → × weights: the embedding is a plain matrix product. */
function linearModel(inputType: 'uint8' | 'float32'): Uint8Array {
  const T = onnx.TensorProto.DataType;
  const nodes: Record<string, unknown>[] = [];
  let x = 'image';
  if (inputType === 'uint8') {
    const to = { name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: T.FLOAT };
    nodes.push({ opType: 'Cast', input: ['image'], output: ['image_f'], attribute: [to] });
    x = 'image_f';
  }
  nodes.push({ opType: 'Reshape', input: [x, 'shape'], output: ['flat'] });
  nodes.push({ opType: 'MatMul', input: ['flat', 'weights'], output: ['embeddings'] });
  const shape = new BigInt64Array([-1n, BigInt(SIZE)]);
  const tensor = (elemType: number, dims: onnxProto.onnx.TensorShapeProto.IDimension[]) => ({
    tensorType: { elemType, shape: { dim: dims } },
  });
  return onnx.ModelProto.encode(
    onnx.ModelProto.create({
      irVersion: 8,
      opsetImport: [{ domain: '', version: 17 }],
      graph: {
        name: 'linear',
        node: nodes,
        initializer: [
          { name: 'shape', dims: [2], dataType: T.INT64, rawData: new Uint8Array(shape.buffer) },
          { name: 'weights', dims: [SIZE, DIM], dataType: T.FLOAT, rawData: new Uint8Array(weights.buffer) },
        ],
        input: [
          {
            name: 'image',
            type: tensor(inputType === 'uint8' ? T.UINT8 : T.FLOAT, [
              { dimParam: 'batch' },
              { dimValue: H },
              { dimValue: W },
              { dimValue: C },
            ]),
          },
        ],
        output: [{ name: 'embeddings', type: tensor(T.FLOAT, [{ dimParam: 'batch' }, { dimValue: DIM }]) }],
      },
    }),
  ).finish();
}

/** Image n's embedding in float64 from per-value inputs. */
function reference(n: number, value: (x: number, channel: number) => number): number[] {
  const out = new Array<number>(DIM).fill(0);
  for (let i = 0; i < SIZE; i++)
    for (let j = 0; j < DIM; j++) out[j]! += value(images[n * SIZE + i]!, i % C) * weights[i * DIM + j]!;
  return out;
}

const embedders: ImageEmbedder[] = [];
let u8: ImageEmbedder;
let f32: ImageEmbedder;
beforeAll(async () => {
  const input = { height: H, width: W, channels: C as 3 };
  u8 = await ImageEmbedder.create({ model: linearModel('uint8'), input, dim: DIM });
  f32 = await ImageEmbedder.create({ model: linearModel('float32'), input, dim: DIM, batchWindowMs: 20 });
  embedders.push(u8, f32);
});
afterAll(async () => {
  for (const e of embedders) await e.close();
});

describe('ImageEmbedder', () => {
  it('embeds a batch of raw pixels through uint8 and float32 models alike', async () => {
    expect([u8.inputType, f32.inputType]).toEqual(['uint8', 'float32']);
    for (const e of [u8, f32]) {
      const out = await e.embedBatch(images, 5);
      for (let n = 0; n < 5; n++)
        for (const [j, v] of reference(n, (x) => x).entries()) expect(out[n * DIM + j]).toBeCloseTo(v, 3);
    }
  });

  it('single images arriving together share one session run and get their own rows', async () => {
    const before = { ...f32.counters };
    const out = await Promise.all(
      [0, 1, 2, 3, 4].map((n) => f32.embed(images.subarray(n * SIZE, (n + 1) * SIZE))),
    );
    expect(f32.counters.batches - before.batches).toBe(1);
    expect(f32.counters.images - before.images).toBe(5);
    for (const [n, row] of out.entries()) {
      for (const [j, v] of reference(n, (x) => x).entries()) expect(row[j]).toBeCloseTo(v, 3);
    }
  });

  it('feeds (x/255 − mean)/std per channel when the graph does not normalise', async () => {
    const mean = [0.1, 0.2, 0.3];
    const std = [0.5, 0.25, 2];
    const e = await ImageEmbedder.create({
      model: linearModel('float32'),
      input: { height: H, width: W, channels: 3, mean, std, normalizedInGraph: false },
      dim: DIM,
    });
    embedders.push(e);
    const out = await e.embedBatch(images.subarray(0, SIZE), 1);
    for (const [j, v] of reference(0, (x, c) => (x / 255 - mean[c]!) / std[c]!).entries()) {
      expect(out[j]).toBeCloseTo(v, 4);
    }
  });

  it('refuses a model whose input differs from the manifest, and pixels of the wrong size', async () => {
    await expect(
      ImageEmbedder.create({
        model: linearModel('uint8'),
        input: { height: 3, width: W, channels: 3 },
        dim: DIM,
      }),
    ).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', message: expect.stringContaining('3×3×3') });
    await expect(u8.embedBatch(images.subarray(0, SIZE - 1), 1)).rejects.toMatchObject({
      code: 'DIMENSION_MISMATCH',
    });
    const wrongDim = await ImageEmbedder.create({
      model: linearModel('uint8'),
      input: { height: H, width: W, channels: 3 },
      dim: 5,
    });
    embedders.push(wrongDim);
    await expect(wrongDim.embedBatch(images.subarray(0, SIZE), 1)).rejects.toThrow(/expected \[1, 5\]/);
  });
});
