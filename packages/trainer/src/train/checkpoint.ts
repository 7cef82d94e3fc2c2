import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import type { TrainConfig } from './config';

/** Version of the checkpoint layout written by {@link saveCheckpoint}. */
export const CHECKPOINT_FORMAT_VERSION = 1;

/** Named tensors in tfjs's weights format: `specs` describe consecutive slices of `data`. */
export interface TensorBundle {
  specs: tf.io.WeightsManifestEntry[];
  data: ArrayBuffer;
}

/** An optimiser's slots. `accBeta1`/`accBeta2` are Adam's running β powers, kept bit-exact. */
export interface OptimizerSnapshot {
  weights: TensorBundle;
  accBeta1?: number;
  accBeta2?: number;
}

/** Everything trainable, as plain data that can cross a worker boundary. */
export interface TrainingSnapshot {
  /** tfjs layers topology (model.json's `modelTopology`) and weights. */
  model: { topology: object; weights: TensorBundle };
  /** Anchors, C×d row-major. */
  anchors: Float32Array;
  optimizers: { model: OptimizerSnapshot; anchors: OptimizerSnapshot };
}

/** Where a run stands: resuming restores the RNG to `epochRngState`, reshuffles, skips `batchInEpoch` batches. */
export interface TrainProgress {
  /** The epoch in progress (0-based); equals `config.epochs` once training finished. */
  epoch: number;
  /** Batches of `epoch` already applied. */
  batchInEpoch: number;
  /** Optimiser steps applied since the start of the run. */
  step: number;
  /** The RNG state right before `epoch`'s shuffle. */
  epochRngState: unknown;
  /** Training wall time so far, ms (summed over resumed sessions). */
  elapsedMs: number;
}

/** state.json of a checkpoint. */
export interface CheckpointState {
  formatVersion: number;
  config: TrainConfig;
  dataset: {
    name: string;
    classes: number;
    /** Class names, indexed by label. */
    classNames: string[];
    /** Training images actually used (after `shots` and `limit`). */
    trainSize: number;
  };
  /** What the model expects: images H×W×C normalised per channel as `(pixel / 255 − mean) / std`. */
  input: { height: number; width: number; channels: number; mean: number[]; std: number[] };
  dim: number;
  progress: TrainProgress;
  /** The loss terms of the last applied step, if any. */
  lastTerms?: { loss: number; attractor: number; repeller: number; minNorm: number };
  backend: string;
  savedAt: string;
}

/** The name of the latest checkpoint folder inside a run's output folder. */
export const CHECKPOINT_DIR = 'checkpoint';

/** Captures a layers model's topology and weights without touching the file system. */
export async function modelSnapshot(model: tf.LayersModel): Promise<TrainingSnapshot['model']> {
  let captured: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      captured = artifacts;
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  const artifacts = captured!;
  const data = artifacts.weightData === undefined ? new ArrayBuffer(0) : joinWeightData(artifacts.weightData);
  return {
    topology: artifacts.modelTopology as object,
    weights: { specs: artifacts.weightSpecs ?? [], data },
  };
}

function joinWeightData(data: tf.io.WeightData): ArrayBuffer {
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/** Rebuilds a layers model from a snapshot (weights included). */
export async function modelFromSnapshot(snapshot: TrainingSnapshot['model']): Promise<tf.LayersModel> {
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: snapshot.topology,
      weightSpecs: snapshot.weights.specs,
      weightData: snapshot.weights.data,
    }),
  );
}

interface AdamInternals {
  accBeta1?: tf.Variable;
  accBeta2?: tf.Variable;
}

/** Reads an optimiser's slots (Adam's moments and iteration count, …). */
export async function optimizerSnapshot(optimizer: tf.Optimizer): Promise<OptimizerSnapshot> {
  const named = await optimizer.getWeights();
  const encoded = await tf.io.encodeWeights(named);
  const internals = optimizer as unknown as AdamInternals;
  const snapshot: OptimizerSnapshot = { weights: { specs: encoded.specs, data: encoded.data } };
  if (internals.accBeta1 !== undefined && internals.accBeta2 !== undefined) {
    snapshot.accBeta1 = internals.accBeta1.dataSync()[0]!;
    snapshot.accBeta2 = internals.accBeta2.dataSync()[0]!;
  }
  return snapshot;
}

/**
 * Restores an optimiser's slots. Adam's `setWeights` recomputes β^t with `pow`, which differs in
 * the last bit from the product it accumulates step by step; the saved values are put back so a
 * resumed run continues bit for bit.
 */
export async function restoreOptimizer(optimizer: tf.Optimizer, snapshot: OptimizerSnapshot): Promise<void> {
  const decoded = tf.io.decodeWeights(snapshot.weights.data, snapshot.weights.specs);
  const named = snapshot.weights.specs.map((spec) => ({ name: spec.name, tensor: decoded[spec.name]! }));
  await optimizer.setWeights(named);
  tf.dispose(Object.values(decoded));
  const internals = optimizer as unknown as AdamInternals;
  if (snapshot.accBeta1 !== undefined && internals.accBeta1 !== undefined) {
    tf.tidy(() => internals.accBeta1!.assign(tf.scalar(snapshot.accBeta1!)));
  }
  if (snapshot.accBeta2 !== undefined && internals.accBeta2 !== undefined) {
    tf.tidy(() => internals.accBeta2!.assign(tf.scalar(snapshot.accBeta2!)));
  }
}

function bytesOf(buffer: ArrayBuffer | ArrayBufferView): Uint8Array {
  return ArrayBuffer.isView(buffer)
    ? new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength)
    : new Uint8Array(buffer);
}

function bufferOf(bytes: Buffer): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/**
 * Writes a checkpoint folder atomically: the files go to a sibling temporary folder that then
 * replaces `dir` by rename, so a crash leaves either the old or the new checkpoint, never half of one.
 *
 * Layout: `model.json` + `weights.bin` (tfjs layers format, loadable by `tf.loadLayersModel`),
 * `anchors.json` (`{ dim, anchors: number[][] }`), `optimizer.json` + `optimizer-model.bin` +
 * `optimizer-anchors.bin`, and `state.json` ({@link CheckpointState}).
 */
export async function saveCheckpoint(
  dir: string,
  snapshot: TrainingSnapshot,
  state: CheckpointState,
): Promise<void> {
  const parent = dirname(dir);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `${basename(dir)}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: snapshot.model.topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: snapshot.model.weights.specs }],
  };
  const rows: number[][] = [];
  for (let c = 0; c < snapshot.anchors.length / state.dim; c++) {
    rows.push(Array.from(snapshot.anchors.subarray(c * state.dim, (c + 1) * state.dim)));
  }
  const { model: modelOpt, anchors: anchorOpt } = snapshot.optimizers;
  const optimizerJson = {
    model: { specs: modelOpt.weights.specs, accBeta1: modelOpt.accBeta1, accBeta2: modelOpt.accBeta2 },
    anchors: { specs: anchorOpt.weights.specs, accBeta1: anchorOpt.accBeta1, accBeta2: anchorOpt.accBeta2 },
  };
  await Promise.all([
    writeFile(join(tmp, 'model.json'), JSON.stringify(modelJson)),
    writeFile(join(tmp, 'weights.bin'), bytesOf(snapshot.model.weights.data)),
    writeFile(join(tmp, 'anchors.json'), JSON.stringify({ dim: state.dim, anchors: rows })),
    writeFile(join(tmp, 'optimizer.json'), JSON.stringify(optimizerJson)),
    writeFile(join(tmp, 'optimizer-model.bin'), bytesOf(modelOpt.weights.data)),
    writeFile(join(tmp, 'optimizer-anchors.bin'), bytesOf(anchorOpt.weights.data)),
    writeFile(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`),
  ]);
  const old = join(parent, `${basename(dir)}.old-${process.pid}`);
  const hadOld = await exists(dir);
  if (hadOld) await rename(dir, old);
  await rename(tmp, dir);
  if (hadOld) await rm(old, { recursive: true, force: true });
}

/**
 * Resolves the checkpoint folder of `path`: a run's output folder (its `checkpoint/`), a
 * checkpoint folder itself, or — after a crash between the two renames of a save — the
 * `checkpoint.old-*` sibling that still holds the last complete checkpoint.
 */
export async function resolveCheckpointDir(path: string): Promise<string | undefined> {
  if (await exists(join(path, 'state.json'))) return path;
  if (await exists(join(path, CHECKPOINT_DIR, 'state.json'))) return join(path, CHECKPOINT_DIR);
  const entries = (await exists(path)) ? await readdir(path) : [];
  const old = entries.find((name) => name.startsWith(`${CHECKPOINT_DIR}.old-`));
  if (old !== undefined && (await exists(join(path, old, 'state.json')))) return join(path, old);
  return undefined;
}

/** Reads a checkpoint folder written by {@link saveCheckpoint}. */
export async function loadCheckpoint(
  path: string,
): Promise<{ snapshot: TrainingSnapshot; state: CheckpointState }> {
  const dir = await resolveCheckpointDir(path);
  if (dir === undefined) {
    throw new AnchorageError(
      'NOT_FOUND',
      `no checkpoint (state.json) in ${path} or ${join(path, CHECKPOINT_DIR)}`,
      {
        argument: 'checkpoint',
        value: path,
      },
    );
  }
  try {
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointState;
    if (state.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
      throw new AnchorageError(
        'UNSUPPORTED_VERSION',
        `checkpoint format ${state.formatVersion} is not supported (expected ${CHECKPOINT_FORMAT_VERSION})`,
        { argument: 'checkpoint', value: state.formatVersion },
      );
    }
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const anchorsJson = JSON.parse(await readFile(join(dir, 'anchors.json'), 'utf8')) as {
      anchors: number[][];
    };
    const optimizerJson = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8')) as Record<
      'model' | 'anchors',
      { specs: tf.io.WeightsManifestEntry[]; accBeta1?: number; accBeta2?: number }
    >;
    const [weights, modelOpt, anchorOpt] = await Promise.all([
      readFile(join(dir, 'weights.bin')),
      readFile(join(dir, 'optimizer-model.bin')),
      readFile(join(dir, 'optimizer-anchors.bin')),
    ]);
    const optimizer = (
      json: { specs: tf.io.WeightsManifestEntry[]; accBeta1?: number; accBeta2?: number },
      data: Buffer,
    ): OptimizerSnapshot => {
      const snap: OptimizerSnapshot = { weights: { specs: json.specs, data: bufferOf(data) } };
      if (json.accBeta1 !== undefined) snap.accBeta1 = json.accBeta1;
      if (json.accBeta2 !== undefined) snap.accBeta2 = json.accBeta2;
      return snap;
    };
    const snapshot: TrainingSnapshot = {
      model: {
        topology: modelJson.modelTopology,
        weights: {
          specs: modelJson.weightsManifest.flatMap((group) => group.weights),
          data: bufferOf(weights),
        },
      },
      anchors: Float32Array.from(anchorsJson.anchors.flat()),
      optimizers: {
        model: optimizer(optimizerJson.model, modelOpt),
        anchors: optimizer(optimizerJson.anchors, anchorOpt),
      },
    };
    return { snapshot, state };
  } catch (error) {
    if (error instanceof AnchorageError) throw error;
    throw new AnchorageError('CORRUPT_FILE', `checkpoint ${dir} is unreadable: ${(error as Error).message}`, {
      argument: 'checkpoint',
      value: dir,
      cause: error,
    });
  }
}
