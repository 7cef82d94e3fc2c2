import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silenceCpuBanner } from '../../backends/quiet';
import { BUNDLE_FORMAT_VERSION, readBundle } from '../../export/bundle';
import { createBundleEmbedder } from '../../export/embed';
import {
  CHECKPOINT_FORMAT_VERSION,
  loadCheckpoint,
  modelFromSnapshot,
  type TensorBundle,
} from '../checkpoint';
import { createLocalEngine } from '../local-engine';
import {
  GOLDEN_CLASSES,
  GOLDEN_DIM,
  GOLDEN_INPUT_SHAPE,
  GOLDEN_LOSS_VARIABLES,
  GOLDEN_MODEL_WEIGHTS,
  GOLDEN_OPTIMIZERS,
  GOLDEN_STATE,
  type GoldenTensor,
  goldenAnchors,
  goldenNames,
  goldenOptimizerSlots,
  goldenPixels,
  goldenValues,
  SALT,
  tfjsEmbeddings,
  writeGoldenBundle,
  writeGoldenCheckpoint,
} from './golden-files';

// The oldest format versions with golden folders; every version from them on must keep loading.
const FIRST_CHECKPOINT_VERSION = 2;
const FIRST_BUNDLE_VERSION = 1;
const REGENERATE = 'pnpm exec tsx --conditions=@anchorage/source src/train/golden/generate.ts';
const deliberate = (constant: string) =>
  `if the format changed on purpose, bump ${constant} and run \`${REGENERATE}\` (older golden folders stay)`;

const goldenPath = (name: string) => fileURLToPath(new URL(name, import.meta.url));
const range = (first: number, last: number) => Array.from({ length: last - first + 1 }, (_, i) => first + i);

/** IEEE bit patterns, so that a value off by one ulp (or -0 for 0) shows. */
function bits(values: ArrayLike<number>): number[] {
  return [...new Uint32Array(Float32Array.from(values).buffer)];
}

const sizeOf = (shape: number[]) => shape.reduce((n, d) => n * d, 1);

/** The tensors of a bundle in spec order, as float32 (int32 slots as their integers). */
function decode(bundle: TensorBundle): Float32Array[] {
  const out: Float32Array[] = [];
  let offset = 0;
  for (const spec of bundle.specs) {
    const bytes = bundle.data.slice(offset, offset + 4 * sizeOf(spec.shape));
    out.push(spec.dtype === 'int32' ? Float32Array.from(new Int32Array(bytes)) : new Float32Array(bytes));
    offset += bytes.byteLength;
  }
  expect(offset, 'bytes after the last tensor').toBe(bundle.data.byteLength);
  return out;
}

function expectTensors(bundle: TensorBundle, expected: GoldenTensor[], salt: number, where: string): void {
  expect(bundle.specs, where).toEqual(expected.map((t) => ({ ...t, dtype: 'float32' })));
  decode(bundle).forEach((values, i) => {
    const golden = goldenValues(sizeOf(expected[i]!.shape), salt + i);
    expect(bits(values), `${where} ${expected[i]!.name}`).toEqual(bits(golden));
  });
}

/** Largest difference relative to the largest expected magnitude. */
function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  expect(actual.length).toBe(expected.length);
  let [diff, scale] = [0, 0];
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i]! - expected[i]!));
    scale = Math.max(scale, Math.abs(expected[i]!));
  }
  return Number.isNaN(diff) ? Number.POSITIVE_INFINITY : diff / scale;
}

let scratch: string;
beforeAll(async () => {
  silenceCpuBanner();
  await tf.setBackend('cpu');
  scratch = await mkdtemp(join(tmpdir(), 'anchorage-golden-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('the golden checkpoint', () => {
  it(`exists for today's format ${CHECKPOINT_FORMAT_VERSION}`, () => {
    const folder = goldenNames.checkpoint(CHECKPOINT_FORMAT_VERSION);
    expect(existsSync(goldenPath(folder)), `no golden/${folder}: run \`${REGENERATE}\``).toBe(true);
  });

  describe.each(range(FIRST_CHECKPOINT_VERSION, CHECKPOINT_FORMAT_VERSION))('of format %i', (version) => {
    const dir = goldenPath(goldenNames.checkpoint(version));

    it('loads with every weight, variable, optimiser slot and state field exact', async () => {
      const { snapshot, state } = await loadCheckpoint(dir);
      expect([version, CHECKPOINT_FORMAT_VERSION]).toContain(state.formatVersion);
      expect(state).toEqual({ ...GOLDEN_STATE, formatVersion: state.formatVersion });
      expectTensors(snapshot.model.weights, GOLDEN_MODEL_WEIGHTS, SALT.model, 'model');
      expectTensors(snapshot.loss, GOLDEN_LOSS_VARIABLES, SALT.loss, 'loss');
      expect(bits(snapshot.classAnchors!)).toEqual(bits(goldenAnchors()));
      for (const key of ['model', 'loss'] as const) {
        const optimizer = snapshot.optimizers[key];
        const slots = goldenOptimizerSlots(GOLDEN_OPTIMIZERS[key]);
        expect(optimizer.weights.specs, `${key} optimiser`).toEqual(
          slots.map(({ name, shape, dtype }) => ({ name, shape, dtype })),
        );
        decode(optimizer.weights).forEach((values, i) => {
          expect(bits(values), `${key} optimiser ${slots[i]!.name}`).toEqual(bits(slots[i]!.values));
        });
        expect(optimizer.accBeta1).toBe(GOLDEN_OPTIMIZERS[key].accBeta1);
        expect(optimizer.accBeta2).toBe(GOLDEN_OPTIMIZERS[key].accBeta2);
      }
    });

    it('restores a training engine: its weights and optimiser state are the golden values', async () => {
      const { snapshot, state } = await loadCheckpoint(dir);
      const engine = await createLocalEngine({
        config: state.config,
        inputShape: GOLDEN_INPUT_SHAPE,
        classes: GOLDEN_CLASSES.length,
        snapshot,
      });
      try {
        const golden = [
          ...GOLDEN_MODEL_WEIGHTS.map((w, i) => goldenValues(sizeOf(w.shape), SALT.model + i)),
          goldenAnchors(),
        ];
        expect(bits(await engine.weights())).toEqual(bits(golden.flatMap((g) => Array.from(g))));
        const restored = await engine.snapshot();
        for (const key of ['model', 'loss'] as const) {
          const optimizer = restored.optimizers[key];
          expect(new Uint8Array(optimizer.weights.data)).toEqual(
            new Uint8Array(snapshot.optimizers[key].weights.data),
          );
          expect(optimizer.accBeta1).toBe(GOLDEN_OPTIMIZERS[key].accBeta1);
        }
      } finally {
        await engine.dispose();
      }
    });
  });

  it(`is what today's saveCheckpoint writes, file for file (${deliberate('CHECKPOINT_FORMAT_VERSION')})`, async () => {
    const golden = goldenPath(goldenNames.checkpoint(CHECKPOINT_FORMAT_VERSION));
    const written = join(scratch, 'checkpoint');
    await writeGoldenCheckpoint(written);
    const files = (await readdir(golden)).sort();
    expect((await readdir(written)).sort(), deliberate('CHECKPOINT_FORMAT_VERSION')).toEqual(files);
    for (const file of files) {
      const [expected, actual] = await Promise.all([
        readFile(join(golden, file)),
        readFile(join(written, file)),
      ]);
      const where = `${file}: ${deliberate('CHECKPOINT_FORMAT_VERSION')}`;
      if (file === 'model.json') {
        // tfjs stamps its own version into generatedBy and keras_version: an upgrade of tfjs is
        // no format change
        const strip = (bytes: Buffer) => {
          const json = JSON.parse(bytes.toString('utf8'));
          delete json.generatedBy;
          delete json.modelTopology.keras_version;
          return json;
        };
        expect(strip(actual), where).toEqual(strip(expected));
      } else {
        expect(actual.equals(expected), where).toBe(true);
      }
    }
  });
});

/** manifest.json of the golden bundle, field by field. */
const GOLDEN_MANIFEST = {
  formatVersion: 1,
  dim: GOLDEN_DIM,
  classes: GOLDEN_CLASSES,
  input: { height: 8, width: 8, channels: 1, mean: [0.5], std: [0.5], normalizedInGraph: true },
  loss: {
    name: 'cam',
    margin: 3,
    minNorm: 3,
    repellerWeight: 1,
    minNormWeight: 1,
    anchorInit: 'spread',
    embedding: 'raw',
    classAnchors: 'loss',
  },
  training: {
    dataset: 'synthetic',
    trainSize: 24,
    backbone: 'golden-tiny',
    epochs: 2,
    epochsCompleted: 1,
    steps: 4,
    batchSize: 8,
    optimizer: 'adam',
    lr: 0.001,
    lossLr: 0.01,
    seed: 5,
    shots: null,
    limit: null,
    backend: 'cpu',
    wallTimeMs: 1234,
    lastTerms: { loss: 2.5, attractor: 1.5, repeller: 0.75, minNorm: 0.25 },
    savedAt: '2026-01-02T03:04:05.000Z',
  },
};

async function expectedEmbeddings(version: number): Promise<number[]> {
  return JSON.parse(await readFile(goldenPath(goldenNames.expectedEmbeddings(version)), 'utf8'));
}

/** The bundle's embeddings of the golden pixels through the embedder consumers use (onnxruntime). */
async function bundleEmbeddings(dir: string): Promise<Float32Array> {
  const embedder = await createBundleEmbedder(dir);
  try {
    expect(embedder.inputType).toBe('uint8');
    return await embedder.embed(goldenPixels(), 2);
  } finally {
    await embedder.release();
  }
}

describe('the golden model bundle', () => {
  it(`exists for today's format ${BUNDLE_FORMAT_VERSION}`, () => {
    const folder = goldenNames.bundle(BUNDLE_FORMAT_VERSION);
    expect(existsSync(goldenPath(folder)), `no golden/${folder}: run \`${REGENERATE}\``).toBe(true);
  });

  describe.each(range(FIRST_BUNDLE_VERSION, BUNDLE_FORMAT_VERSION))('of format %i', (version) => {
    const dir = goldenPath(goldenNames.bundle(version));

    it('reads with the manifest and the anchors exact', async () => {
      const bundle = await readBundle(dir, { loadModel: false });
      expect(bundle.manifest).toEqual(GOLDEN_MANIFEST);
      expect(bits(bundle.anchors)).toEqual(bits(goldenAnchors()));
    });

    it("embeds the fixed images as tfjs's golden model did when it was written (1e-6)", async () => {
      const expected = await expectedEmbeddings(version);
      expect(expected).toHaveLength(2 * GOLDEN_DIM);
      expect(relativeError(await bundleEmbeddings(dir), expected)).toBeLessThanOrEqual(1e-6);
      // the committed expectation is still what the golden checkpoint's model computes in tfjs
      const { snapshot } = await loadCheckpoint(
        goldenPath(goldenNames.checkpoint(CHECKPOINT_FORMAT_VERSION)),
      );
      const model = await modelFromSnapshot(snapshot.model);
      try {
        expect(relativeError(await tfjsEmbeddings(model), expected)).toBeLessThanOrEqual(1e-6);
      } finally {
        model.dispose();
      }
    });
  });

  it(`is what today's export writes from the golden checkpoint (${deliberate('BUNDLE_FORMAT_VERSION')})`, async () => {
    const golden = goldenPath(goldenNames.bundle(BUNDLE_FORMAT_VERSION));
    const written = join(scratch, 'bundle');
    await writeGoldenBundle(goldenPath(goldenNames.checkpoint(CHECKPOINT_FORMAT_VERSION)), written);
    const files = (await readdir(golden)).sort();
    expect((await readdir(written)).sort(), deliberate('BUNDLE_FORMAT_VERSION')).toEqual(files);
    for (const file of ['manifest.json', 'anchors.json']) {
      const [expected, actual] = await Promise.all([
        readFile(join(golden, file)),
        readFile(join(written, file)),
      ]);
      expect(actual.equals(expected), `${file}: ${deliberate('BUNDLE_FORMAT_VERSION')}`).toBe(true);
    }
    // model.onnx's bytes may change with the converter; what it computes may not
    const expected = await expectedEmbeddings(BUNDLE_FORMAT_VERSION);
    expect(relativeError(await bundleEmbeddings(written), expected)).toBeLessThanOrEqual(1e-6);
  });
});
