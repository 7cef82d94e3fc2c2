import { mkdir, open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import type { ImageFit } from '../data';
import { registerVitLayers } from '../models/vit-layers';
import type { TrainConfig } from './config';
import type { StepTerms } from './engine';

/** Version of the checkpoint layout written by {@link saveCheckpoint}. */
export const CHECKPOINT_FORMAT_VERSION = 2;

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
  /** Every variable the loss owns, under its name in `TrainableLoss.variables`. */
  loss: TensorBundle;
  /** The backbone's optimiser and the loss's own. */
  optimizers: { model: OptimizerSnapshot; loss: OptimizerSnapshot };
  /**
   * The C×d class anchors of the two-stage index (row-major): the loss's own, or the class means
   * of the training embeddings once training has finished; absent while unknown.
   */
  classAnchors?: Float32Array;
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
  input: {
    height: number;
    width: number;
    channels: number;
    mean: number[];
    std: number[];
    /** How images of another size were resized to height×width; absent: the dataset's own size. */
    fit?: ImageFit;
  };
  dim: number;
  /** The retrieval embedding: the model's output divided by its norm, or the output itself. */
  embedding: 'l2-normalized' | 'raw';
  /** Where the class anchors come from: the loss's own, or the class means after training. */
  classAnchors: 'loss' | 'class-means';
  progress: TrainProgress;
  /** The loss and its terms at the last applied step, if any. */
  lastTerms?: StepTerms;
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
  // the backbones' own layer classes (the ViT's) must be known to tfjs's deserialiser
  registerVitLayers();
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
    // read asynchronously: webgpu in Node cannot read a tensor back synchronously
    snapshot.accBeta1 = (await internals.accBeta1.data())[0]!;
    snapshot.accBeta2 = (await internals.accBeta2.data())[0]!;
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

function anchorsJson(anchors: Float32Array, dim: number): { dim: number; anchors: number[][] } {
  const rows: number[][] = [];
  for (let c = 0; c < anchors.length / dim; c++)
    rows.push(Array.from(anchors.subarray(c * dim, (c + 1) * dim)));
  return { dim, anchors: rows };
}

/** Writes a file and forces it to disk before resolving. */
async function writeDurably(path: string, data: string | Uint8Array): Promise<void> {
  const handle = await open(path, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/** Forces a folder's entries (creations, renames) to disk; some file systems refuse, which is harmless. */
async function syncFolder(path: string): Promise<void> {
  try {
    const handle = await open(path, 'r');
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // EISDIR/EINVAL/EPERM on file systems that cannot sync a directory
  }
}

/** Siblings a save leaves while it runs: `checkpoint.tmp-<pid>` (being written), `checkpoint.old-<pid>` (being replaced). */
function isSaveLeftover(name: string, dir: string): boolean {
  return name.startsWith(`${dir}.tmp-`) || name.startsWith(`${dir}.old-`);
}

/**
 * Writes a checkpoint folder atomically and durably: every file is written and fsynced in a
 * sibling temporary folder, `state.json` last (a folder with `state.json` is complete), the folder
 * is fsynced, then it replaces `dir` by rename and the parent folder is fsynced. A crash at any
 * point leaves the previous checkpoint or the new one complete on disk, and
 * {@link resolveCheckpointDir} finds the newest complete one. After the replacement, leftovers of
 * earlier interrupted saves are removed.
 *
 * Layout (format 2): `model.json` + `weights.bin` (tfjs layers format, loadable by
 * `tf.loadLayersModel`), `loss.json` + `loss.bin` (the loss's variables), `optimizer.json` +
 * `optimizer-model.bin` + `optimizer-loss.bin`, `anchors.json` (`{ dim, anchors: number[][] }`, the
 * class anchors, when known) and `state.json` ({@link CheckpointState}).
 */
export async function saveCheckpoint(
  dir: string,
  snapshot: TrainingSnapshot,
  state: CheckpointState,
): Promise<void> {
  const parent = dirname(dir);
  const name = basename(dir);
  await mkdir(parent, { recursive: true });
  const tmp = join(parent, `${name}.tmp-${process.pid}`);
  await rm(tmp, { recursive: true, force: true });
  await mkdir(tmp);
  const modelJson = {
    format: 'layers-model',
    generatedBy: `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: null,
    modelTopology: snapshot.model.topology,
    weightsManifest: [{ paths: ['weights.bin'], weights: snapshot.model.weights.specs }],
  };
  const { model: modelOpt, loss: lossOpt } = snapshot.optimizers;
  const optimizerJson = {
    model: { specs: modelOpt.weights.specs, accBeta1: modelOpt.accBeta1, accBeta2: modelOpt.accBeta2 },
    loss: { specs: lossOpt.weights.specs, accBeta1: lossOpt.accBeta1, accBeta2: lossOpt.accBeta2 },
  };
  const writes = [
    writeDurably(join(tmp, 'model.json'), JSON.stringify(modelJson)),
    writeDurably(join(tmp, 'weights.bin'), bytesOf(snapshot.model.weights.data)),
    writeDurably(
      join(tmp, 'loss.json'),
      JSON.stringify({ name: state.config.loss, specs: snapshot.loss.specs }),
    ),
    writeDurably(join(tmp, 'loss.bin'), bytesOf(snapshot.loss.data)),
    writeDurably(join(tmp, 'optimizer.json'), JSON.stringify(optimizerJson)),
    writeDurably(join(tmp, 'optimizer-model.bin'), bytesOf(modelOpt.weights.data)),
    writeDurably(join(tmp, 'optimizer-loss.bin'), bytesOf(lossOpt.weights.data)),
  ];
  if (snapshot.classAnchors !== undefined) {
    writes.push(
      writeDurably(join(tmp, 'anchors.json'), JSON.stringify(anchorsJson(snapshot.classAnchors, state.dim))),
    );
  }
  await Promise.all(writes);
  // state.json marks the folder complete, so it is written only once everything else is on disk
  await writeDurably(join(tmp, 'state.json'), `${JSON.stringify(state, null, 2)}\n`);
  await syncFolder(tmp);
  const old = join(parent, `${name}.old-${process.pid}`);
  await rm(old, { recursive: true, force: true });
  const hadOld = await exists(dir);
  if (hadOld) await rename(dir, old);
  await rename(tmp, dir);
  await syncFolder(parent);
  // the new checkpoint is on disk: every other copy (this save's and killed saves') is older
  for (const entry of await readdir(parent)) {
    if (isSaveLeftover(entry, name)) await rm(join(parent, entry), { recursive: true, force: true });
  }
}

/** The step a complete checkpoint folder holds, or undefined when it is incomplete or unreadable. */
async function completeStep(dir: string): Promise<number | undefined> {
  try {
    const state = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as Partial<CheckpointState>;
    const step = state.progress?.step;
    return typeof step === 'number' ? step : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Resolves the checkpoint folder of `path`: a checkpoint folder itself, or a run's output folder,
 * where the newest complete one among `checkpoint/` and the siblings an interrupted save leaves
 * (`checkpoint.tmp-*` once complete, `checkpoint.old-*`) is taken, so a resume never starts from
 * an older step than the last one written.
 */
export async function resolveCheckpointDir(path: string): Promise<string | undefined> {
  if (await exists(join(path, 'state.json'))) return path;
  const entries = (await exists(path)) ? await readdir(path) : [];
  let best: { dir: string; step: number } | undefined;
  for (const entry of entries) {
    if (entry !== CHECKPOINT_DIR && !isSaveLeftover(entry, CHECKPOINT_DIR)) continue;
    const dir = join(path, entry);
    const step = await completeStep(dir);
    // on a tie the settled `checkpoint/` wins over a leftover holding the same step
    if (
      step !== undefined &&
      (best === undefined || step > best.step || (step === best.step && entry === CHECKPOINT_DIR))
    ) {
      best = { dir, step };
    }
  }
  return best?.dir;
}

async function readAnchors(path: string, required: boolean): Promise<Float32Array | undefined> {
  if (!required && !(await exists(path))) return undefined;
  const json = JSON.parse(await readFile(path, 'utf8')) as { anchors: number[][] };
  return Float32Array.from(json.anchors.flat());
}

/** state.json of format 1, when CAM was the only loss and its options sat in the config. */
interface StateV1 extends Omit<CheckpointState, 'config' | 'embedding' | 'classAnchors'> {
  config: Omit<TrainConfig, 'lossOptions' | 'lossLr'> & {
    margin: number;
    minNorm: number;
    repellerWeight: number;
    minNormWeight: number;
    anchorInit: string;
    anchorLr: number;
  };
}

function upgradeStateV1(state: StateV1): CheckpointState {
  const { margin, minNorm, repellerWeight, minNormWeight, anchorInit, anchorLr, ...config } = state.config;
  return {
    ...state,
    formatVersion: CHECKPOINT_FORMAT_VERSION,
    config: {
      ...config,
      loss: 'cam',
      lossOptions: { margin, minNorm, repellerWeight, minNormWeight, anchorInit },
      lossLr: anchorLr,
    },
    embedding: 'raw',
    classAnchors: 'loss',
  };
}

/**
 * Reads a checkpoint folder written by {@link saveCheckpoint}. A format-1 checkpoint (CAM only) is
 * read too and returned in format 2's shape: its anchors become the loss's `anchors` variable and
 * the class anchors, its anchor optimiser the loss's optimiser.
 */
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
    const recorded = JSON.parse(await readFile(join(dir, 'state.json'), 'utf8')) as CheckpointState;
    if (recorded.formatVersion !== 1 && recorded.formatVersion !== CHECKPOINT_FORMAT_VERSION) {
      throw new AnchorageError(
        'UNSUPPORTED_VERSION',
        `checkpoint format ${recorded.formatVersion} is not supported (this version reads 1 and ${CHECKPOINT_FORMAT_VERSION})`,
        { argument: 'checkpoint', value: recorded.formatVersion },
      );
    }
    const v1 = recorded.formatVersion === 1;
    const state = v1 ? upgradeStateV1(recorded as unknown as StateV1) : recorded;
    const modelJson = JSON.parse(await readFile(join(dir, 'model.json'), 'utf8')) as {
      modelTopology: object;
      weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[];
    };
    const optimizerJson = JSON.parse(await readFile(join(dir, 'optimizer.json'), 'utf8')) as Record<
      string,
      { specs: tf.io.WeightsManifestEntry[]; accBeta1?: number; accBeta2?: number }
    >;
    // Format 1 knew only CAM: its anchors were the loss's one variable and had their own optimiser.
    const lossOptimizerKey = v1 ? 'anchors' : 'loss';
    const [weights, modelOpt, lossOpt, classAnchors] = await Promise.all([
      readFile(join(dir, 'weights.bin')),
      readFile(join(dir, 'optimizer-model.bin')),
      readFile(join(dir, `optimizer-${lossOptimizerKey}.bin`)),
      readAnchors(join(dir, 'anchors.json'), v1),
    ]);
    const optimizer = (
      json: { specs: tf.io.WeightsManifestEntry[]; accBeta1?: number; accBeta2?: number } | undefined,
      data: Buffer,
    ): OptimizerSnapshot => {
      if (json === undefined) throw new Error('optimizer.json lacks an optimiser');
      const snap: OptimizerSnapshot = { weights: { specs: json.specs, data: bufferOf(data) } };
      if (json.accBeta1 !== undefined) snap.accBeta1 = json.accBeta1;
      if (json.accBeta2 !== undefined) snap.accBeta2 = json.accBeta2;
      return snap;
    };
    let loss: TensorBundle;
    if (v1) {
      const anchors = classAnchors!;
      loss = {
        specs: [{ name: 'anchors', shape: [anchors.length / state.dim, state.dim], dtype: 'float32' }],
        data: anchors.slice().buffer,
      };
    } else {
      const lossJson = JSON.parse(await readFile(join(dir, 'loss.json'), 'utf8')) as {
        specs: tf.io.WeightsManifestEntry[];
      };
      loss = { specs: lossJson.specs, data: bufferOf(await readFile(join(dir, 'loss.bin'))) };
    }
    const snapshot: TrainingSnapshot = {
      model: {
        topology: modelJson.modelTopology,
        weights: {
          specs: modelJson.weightsManifest.flatMap((group) => group.weights),
          data: bufferOf(weights),
        },
      },
      loss,
      optimizers: {
        model: optimizer(optimizerJson.model, modelOpt),
        loss: optimizer(optimizerJson[lossOptimizerKey], lossOpt),
      },
      ...(classAnchors === undefined ? {} : { classAnchors }),
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
