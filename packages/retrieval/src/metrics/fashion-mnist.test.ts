import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fashionMnistDir } from '@anchorage/loss-core/testing';
import { describe, expect, it } from 'vitest';
import { AnchorIndex } from '../anchor/index.js';
import { FlatIndex } from '../flat/index.js';
import { evaluateAnchorIndex } from './anchor-evaluation.js';
import { evaluateRetrieval } from './evaluate.js';

// Debian's dataset-fashion-mnist (installed by CI) or $FASHION_MNIST_DIR; required in CI.
const FASHION = fashionMnistDir();

async function idx(name: string, count: number): Promise<{ data: Uint8Array; size: number }> {
  const bytes = gunzipSync(await readFile(join(FASHION!, name)));
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const dims = bytes[3]!;
  let size = 1;
  for (let i = 1; i < dims; i++) size *= view.getUint32(4 + 4 * i, false);
  const start = 4 + 4 * dims;
  return { data: bytes.subarray(start, start + count * size), size };
}

async function split(prefix: string, count: number) {
  const images = await idx(`${prefix}-images-idx3-ubyte.gz`, count);
  const labels = await idx(`${prefix}-labels-idx1-ubyte.gz`, count);
  return {
    vectors: Float32Array.from(images.data, (v) => v / 255),
    labels: Int32Array.from(labels.data),
    dim: images.size,
  };
}

describe.runIf(FASHION !== undefined)(
  'retrieval on a Fashion-MNIST slice (raw pixels; needs dataset-fashion-mnist)',
  () => {
    it('two-stage at probe = C equals exhaustive; probe = 1 scans a tenth', async () => {
      const train = await split('train', 1500);
      const test = await split('t10k', 150);
      const dim = train.dim;
      expect(dim).toBe(784);
      // Class means of the database as anchors: a stand-in for trained CAM anchors.
      const anchors = new Float32Array(10 * dim);
      const counts = new Float64Array(10);
      for (let i = 0; i < 1500; i++) {
        counts[train.labels[i]!]!++;
        for (let j = 0; j < dim; j++) anchors[train.labels[i]! * dim + j]! += train.vectors[i * dim + j]!;
      }
      for (let c = 0; c < 10; c++) for (let j = 0; j < dim; j++) anchors[c * dim + j]! /= counts[c]!;

      const ids = Array.from({ length: 1500 }, (_, i) => i);
      const anchor = new AnchorIndex({ dim, anchors });
      anchor.add({ ids, vectors: train.vectors, labels: train.labels });
      const flat = new FlatIndex({ dim });
      flat.add({ ids, vectors: train.vectors, labels: train.labels });

      const input = { queries: test.vectors, queryLabels: test.labels, ks: [1, 10, 100] };
      const exact = evaluateRetrieval({
        ...input,
        database: train.vectors,
        databaseLabels: train.labels,
        dim,
      });
      const full = evaluateAnchorIndex(anchor, { ...input, probe: 10 });
      expect(full).toEqual(exact);
      // Raw-pixel nearest neighbours on Fashion-MNIST are right most of the time, mAP much lower.
      expect(exact.precisionAtK[1]).toBeGreaterThan(0.6);
      expect(exact.meanAveragePrecision).toBeGreaterThan(0.2);
      expect(exact.meanAveragePrecision).toBeLessThan(exact.precisionAtK[1]!);

      const probe1 = evaluateAnchorIndex(anchor, { ...input, probe: 1 });
      expect(probe1.scannedFraction).toBeGreaterThan(0.05);
      expect(probe1.scannedFraction).toBeLessThan(0.2);
      expect(probe1.recallAtK[10]).toBeGreaterThan(0.3);
      expect(probe1.recallAtK[10]).toBeLessThanOrEqual(1);

      // The index's own answers agree with the evaluation's rankings.
      const q = test.vectors.subarray(0, dim);
      expect(anchor.search(q, { k: 10, probe: 10 }).hits).toEqual(
        flat.search(q, { k: 10 }).hits.map((h) => ({ ...h, bucket: h.label })),
      );
    });
  },
);
