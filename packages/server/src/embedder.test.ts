import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OnnxEmbedder } from './embedder.js';
import { linearModel, seeded } from './test-fixtures.js';

const H = 2;
const W = 2;
const C = 3;
const DIM = 3;
let dir: string;
const rand = seeded(11);
const weights = Float32Array.from({ length: H * W * C * DIM }, () => rand() - 0.5);
const pixels = Uint8Array.from({ length: H * W * C }, (_, i) => (i * 41) % 256);

/** x·W in float64 for an NHWC image given as per-element values. */
function reference(values: (i: number) => number): number[] {
  const out = new Array<number>(DIM).fill(0);
  for (let i = 0; i < H * W * C; i++)
    for (let j = 0; j < DIM; j++) out[j]! += values(i) * weights[i * DIM + j]!;
  return out;
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-embedder-'));
  writeFileSync(join(dir, 'f32.onnx'), linearModel({ height: H, width: W, channels: C, dim: DIM, weights }));
  writeFileSync(
    join(dir, 'u8.onnx'),
    linearModel({ height: H, width: W, channels: C, dim: DIM, weights, inputType: 'uint8' }),
  );
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('OnnxEmbedder', () => {
  it('feeds raw 0–255 pixels to float32 and uint8 models that normalise in the graph', async () => {
    const want = reference((i) => pixels[i]!);
    for (const file of ['f32.onnx', 'u8.onnx']) {
      const e = await OnnxEmbedder.create({
        modelPath: join(dir, file),
        input: { height: H, width: W, channels: C },
        dim: DIM,
      });
      const got = await e.embed(pixels);
      got.forEach((x, j) => {
        expect(x).toBeCloseTo(want[j]!, 3);
      });
      await e.close();
    }
  });

  it('applies (x/255 − mean)/std per channel when normalizedInGraph is false', async () => {
    const mean = [0.1, 0.2, 0.3];
    const std = [0.5, 0.25, 2];
    const e = await OnnxEmbedder.create({
      modelPath: join(dir, 'f32.onnx'),
      input: { height: H, width: W, channels: C, mean, std, normalizedInGraph: false },
      dim: DIM,
    });
    const want = reference((i) => (pixels[i]! / 255 - mean[i % C]!) / std[i % C]!);
    (await e.embed(pixels)).forEach((x, j) => {
      expect(x).toBeCloseTo(want[j]!, 5);
    });
    await e.close();
  });

  it('refuses a model whose input size differs from the manifest', async () => {
    await expect(
      OnnxEmbedder.create({
        modelPath: join(dir, 'f32.onnx'),
        input: { height: 3, width: W, channels: C },
        dim: DIM,
      }),
    ).rejects.toThrow(/does not match manifest input 3×2×3/);
  });
});
