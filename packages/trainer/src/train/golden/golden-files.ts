import * as tf from '@tensorflow/tfjs';
import { exportCheckpointBundle } from '../../export/export-model';
import { createLoss } from '../../losses/registry';
import {
  type CheckpointState,
  modelSnapshot,
  type OptimizerSnapshot,
  optimizerSnapshot,
  restoreOptimizer,
  saveCheckpoint,
} from '../checkpoint';
import { lossVariablesSnapshot } from '../local-engine';

// What the committed golden checkpoint and model bundle hold, written out by hand, and how today's
// code writes them (generate.ts). Every stored number is a formula's value with few significant
// bits, so the tests can recompute each one exactly instead of trusting the reader under test.

/** A named tensor as a golden file stores it. */
export interface GoldenTensor {
  name: string;
  shape: number[];
}

/** Folder and file names under golden/ for a checkpoint format and a bundle format version. */
export const goldenNames = {
  checkpoint: (version: number) => `checkpoint.v${version}`,
  bundle: (version: number) => `bundle.v${version}`,
  /** The embeddings tfjs computed for {@link goldenPixels} when the bundle was written. */
  expectedEmbeddings: (version: number) => `bundle.v${version}.expected-embeddings.json`,
};

export const GOLDEN_INPUT_SHAPE: [number, number, number] = [8, 8, 1];
export const GOLDEN_DIM = 4;
export const GOLDEN_CLASSES = ['zero', 'ünïcødé', '猫'];

/** The tiny backbone's trainable weights in the order tfjs layers saves them. */
export const GOLDEN_MODEL_WEIGHTS: GoldenTensor[] = [
  { name: 'conv1/kernel', shape: [3, 3, 1, 4] },
  { name: 'conv1/bias', shape: [4] },
  { name: 'conv2/kernel', shape: [3, 3, 4, 8] },
  { name: 'conv2/bias', shape: [8] },
  { name: 'embedding/kernel', shape: [8, GOLDEN_DIM] },
  { name: 'embedding/bias', shape: [GOLDEN_DIM] },
];

/** CAM's one variable. */
export const GOLDEN_LOSS_VARIABLES: GoldenTensor[] = [
  { name: 'anchors', shape: [GOLDEN_CLASSES.length, GOLDEN_DIM] },
];

/**
 * Value k of golden tensor number `salt`: a multiple of 1/64 in [−0.75, 0.75], exact in float32.
 * `positive` gives a multiple of 1/1024 in [0, 0.1) instead (Adam's second moments).
 */
export function goldenValues(size: number, salt: number, positive = false): Float32Array {
  return Float32Array.from({ length: size }, (_, k) => {
    const r = ((k + 1) * 37 + salt * 101) % 97;
    return positive ? r / 1024 : (r - 48) / 64;
  });
}

const sizeOf = (shape: number[]) => shape.reduce((n, d) => n * d, 1);

/** Salts: the model's weights 0–5, the loss's variables 10+, the optimisers' slots 20+ and 40+. */
export const SALT = { model: 0, loss: 10, modelOptimizer: 20, lossOptimizer: 40 } as const;

/** Adam's slots as the golden checkpoint holds them (iteration count, β powers, m and v per variable). */
export interface GoldenOptimizer {
  iterations: number;
  accBeta1: number;
  accBeta2: number;
  variables: GoldenTensor[];
  salt: number;
}

export const GOLDEN_OPTIMIZERS: { model: GoldenOptimizer; loss: GoldenOptimizer } = {
  model: {
    iterations: 3,
    accBeta1: Math.fround(0.9 ** 4),
    accBeta2: Math.fround(0.999 ** 4),
    variables: GOLDEN_MODEL_WEIGHTS,
    salt: SALT.modelOptimizer,
  },
  loss: {
    iterations: 3,
    accBeta1: Math.fround(0.9 ** 4),
    accBeta2: Math.fround(0.999 ** 4),
    variables: GOLDEN_LOSS_VARIABLES,
    salt: SALT.lossOptimizer,
  },
};

/** The slots in tfjs Adam's `getWeights` order: `iter`, every `<name>/m`, every `<name>/v`, with values. */
export function goldenOptimizerSlots(
  optimizer: GoldenOptimizer,
): { name: string; shape: number[]; dtype: 'int32' | 'float32'; values: Int32Array | Float32Array }[] {
  const { variables, salt } = optimizer;
  return [
    { name: 'iter', shape: [], dtype: 'int32', values: Int32Array.of(optimizer.iterations) },
    ...variables.map((v, i) => ({
      name: `${v.name}/m`,
      shape: v.shape,
      dtype: 'float32' as const,
      values: goldenValues(sizeOf(v.shape), salt + i),
    })),
    ...variables.map((v, i) => ({
      name: `${v.name}/v`,
      shape: v.shape,
      dtype: 'float32' as const,
      values: goldenValues(sizeOf(v.shape), salt + 10 + i, true),
    })),
  ];
}

/** state.json of the golden checkpoint, field by field. */
export const GOLDEN_STATE: CheckpointState = {
  formatVersion: 2,
  config: {
    dataset: 'synthetic',
    data: undefined,
    backbone: 'golden-tiny',
    loss: 'cam',
    lossOptions: { margin: 3, minNorm: 3, repellerWeight: 1, minNormWeight: 1, anchorInit: 'spread' },
    epochs: 2,
    batchSize: 8,
    lr: 0.001,
    lossLr: 0.01,
    dim: GOLDEN_DIM,
    seed: 5,
    backend: 'cpu',
    shots: undefined,
    limit: undefined,
    workers: 1,
    normalization: { mean: [0.5], std: [0.5] },
  },
  dataset: { name: 'synthetic', classes: 3, classNames: GOLDEN_CLASSES, trainSize: 24 },
  input: { height: 8, width: 8, channels: 1, mean: [0.5], std: [0.5] },
  dim: GOLDEN_DIM,
  embedding: 'raw',
  classAnchors: 'loss',
  progress: { epoch: 1, batchInEpoch: 1, step: 4, epochRngState: [1, 2, 3, 4], elapsedMs: 1234 },
  lastTerms: { loss: 2.5, attractor: 1.5, repeller: 0.75, minNorm: 0.25 },
  backend: 'cpu',
  savedAt: '2026-01-02T03:04:05.000Z',
};

/** conv3×3(4)+ReLU → maxpool2 → conv3×3(8)+ReLU → global average pool → dense(4), golden weights. */
export function createGoldenModel(): tf.Sequential {
  const model = tf.sequential({
    name: 'golden-tiny',
    layers: [
      tf.layers.conv2d({
        name: 'conv1',
        filters: 4,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        inputShape: GOLDEN_INPUT_SHAPE,
      }),
      tf.layers.maxPooling2d({ name: 'pool1', poolSize: 2, strides: 2 }),
      tf.layers.conv2d({ name: 'conv2', filters: 8, kernelSize: 3, padding: 'same', activation: 'relu' }),
      tf.layers.globalAveragePooling2d({ name: 'gap' }),
      tf.layers.dense({ name: 'embedding', units: GOLDEN_DIM }),
    ],
  });
  model.setWeights(
    GOLDEN_MODEL_WEIGHTS.map((w, i) => tf.tensor(goldenValues(sizeOf(w.shape), SALT.model + i), w.shape)),
  );
  return model;
}

/** Raw 0–255 pixels of two 8×8×1 images, the fixed input of the bundle's check. */
export function goldenPixels(): Uint8Array {
  return Uint8Array.from({ length: 2 * 64 }, (_, k) => (k * 53 + 17) % 256);
}

/** The class anchors the checkpoint and the bundle hold (CAM's anchors variable: the same values). */
export function goldenAnchors(): Float32Array {
  return goldenValues(GOLDEN_CLASSES.length * GOLDEN_DIM, SALT.loss);
}

function optimizerFrom(optimizer: GoldenOptimizer): OptimizerSnapshot {
  const slots = goldenOptimizerSlots(optimizer);
  const bytes = slots.map((slot) => new Uint8Array(slot.values.buffer));
  const data = new Uint8Array(bytes.reduce((n, b) => n + b.length, 0));
  let offset = 0;
  for (const b of bytes) {
    data.set(b, offset);
    offset += b.length;
  }
  return {
    weights: { specs: slots.map(({ name, shape, dtype }) => ({ name, shape, dtype })), data: data.buffer },
    accBeta1: optimizer.accBeta1,
    accBeta2: optimizer.accBeta2,
  };
}

/**
 * Writes the golden checkpoint into `dir` with today's code: the model, CAM and two Adam
 * optimisers get the golden values, and their snapshots go through `saveCheckpoint`.
 */
export async function writeGoldenCheckpoint(dir: string): Promise<void> {
  const model = createGoldenModel();
  const { config } = GOLDEN_STATE;
  const loss = createLoss('cam', { ...config.lossOptions, classes: 3, dim: GOLDEN_DIM, seed: config.seed });
  const modelOptimizer = tf.train.adam(config.lr);
  const lossOptimizer = tf.train.adam(config.lossLr);
  try {
    tf.tidy(() => loss.variables.anchors!.assign(tf.tensor2d(goldenAnchors(), [3, GOLDEN_DIM])));
    await restoreOptimizer(modelOptimizer, optimizerFrom(GOLDEN_OPTIMIZERS.model));
    await restoreOptimizer(lossOptimizer, optimizerFrom(GOLDEN_OPTIMIZERS.loss));
    const snapshot = {
      model: await modelSnapshot(model),
      loss: await lossVariablesSnapshot(loss),
      optimizers: {
        model: await optimizerSnapshot(modelOptimizer),
        loss: await optimizerSnapshot(lossOptimizer),
      },
      classAnchors: goldenAnchors(),
    };
    await saveCheckpoint(dir, snapshot, GOLDEN_STATE);
  } finally {
    model.dispose();
    loss.dispose();
    modelOptimizer.dispose();
    lossOptimizer.dispose();
  }
}

/** Exports the bundle of the checkpoint in `checkpointDir` into `bundleDir` with today's code. */
export async function writeGoldenBundle(checkpointDir: string, bundleDir: string): Promise<void> {
  await exportCheckpointBundle(checkpointDir, bundleDir);
}

/** tfjs's embeddings of {@link goldenPixels} by the golden model (normalised as the state says), N×d. */
export async function tfjsEmbeddings(model: tf.LayersModel): Promise<Float32Array> {
  const embeddings = tf.tidy(() => {
    const { mean, std } = GOLDEN_STATE.input;
    const [height, width, channels] = GOLDEN_INPUT_SHAPE;
    const pixels = tf.tensor4d(Float32Array.from(goldenPixels()), [2, height, width, channels]);
    const x = tf.div(tf.sub(tf.div(pixels, 255), mean[0]!), std[0]!);
    return model.predict(x) as tf.Tensor;
  });
  const values = (await embeddings.data()) as Float32Array;
  embeddings.dispose();
  return values;
}
