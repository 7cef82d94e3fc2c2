import { AnchorageError } from '@anchorage/loss-core';
import type * as tf from '@tensorflow/tfjs';
import { type ImageFit, isStreaming } from '../data';
import { loadCheckpoint, modelFromSnapshot } from '../train/checkpoint';
import { classMeans } from '../train/class-means';
import { retrievalEmbeddings } from '../train/evaluate';
import { loadTrainingSet } from '../train/train';
import { type BundleManifest, writeBundle } from './bundle';
import { readWeightValues, tfjsToOnnx } from './tfjs-to-onnx';

/** What {@link exportModelBundle} needs. */
export interface ExportModelBundleOptions {
  /** The trained embedding model: N×H×W×C (normalised pixels) → N×d. */
  model: tf.LayersModel;
  /** Class anchors of the two-stage index, C×d row-major (in the retrieval embedding's space). */
  anchors: Float32Array;
  /**
   * The retrieval embedding: `l2-normalized` folds `e / sqrt(‖e‖² + 1e-12)` into `model.onnx`.
   * Default `raw`.
   */
  embedding?: 'l2-normalized' | 'raw';
  /** Class names, indexed by label. */
  classes: readonly string[];
  /** The model's input normalisation `(pixel / 255 − mean) / std`; default mean 0, std 1. */
  normalization?: { mean: readonly number[]; std: readonly number[] };
  /** How images of another size are resized to the model's (recorded as `input.fit`). */
  fit?: ImageFit;
  /** Element type of `model.onnx`'s input (raw 0–255 pixels either way). Default `uint8`. */
  inputType?: 'uint8' | 'float32';
  loss?: Record<string, unknown>;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
}

/**
 * Exports a trained model as a model bundle in `dir`: `model.onnx` takes raw pixels (NHWC, dynamic
 * batch) and holds the normalisation; `manifest.json` records the input, classes, loss, training
 * and metrics; `anchors.json` the anchors. Returns the manifest written.
 */
export async function exportModelBundle(
  dir: string,
  options: ExportModelBundleOptions,
): Promise<BundleManifest> {
  const { model, anchors, classes } = options;
  const inputShape = model.inputs[0]?.shape ?? [];
  const outputShape = model.outputs[0]?.shape ?? [];
  if (inputShape.length !== 4 || outputShape.length !== 2 || typeof outputShape[1] !== 'number') {
    throw new AnchorageError(
      'UNSUPPORTED',
      `a bundle model maps N×H×W×C images to N×d embeddings; this one maps ${JSON.stringify(inputShape)} to ${JSON.stringify(outputShape)}`,
      { argument: 'model', value: { inputShape, outputShape } },
    );
  }
  const [, height, width, channels] = inputShape as [null, number, number, number];
  const dim = outputShape[1];
  if (channels !== 1 && channels !== 3) {
    throw new AnchorageError('UNSUPPORTED', `a bundle model takes 1 or 3 channels, this one ${channels}`, {
      argument: 'model',
      value: channels,
    });
  }
  const mean = [...(options.normalization?.mean ?? [0])];
  const std = [...(options.normalization?.std ?? [1])];
  const onnx = tfjsToOnnx(model, {
    inputType: options.inputType ?? 'uint8',
    pixelScale: 1 / 255,
    mean: mean.length === 1 ? mean[0]! : mean,
    std: std.length === 1 ? std[0]! : std,
    l2Normalize: options.embedding === 'l2-normalized',
    weightValues: await readWeightValues(model),
  });
  const manifest: BundleManifest = {
    formatVersion: 1,
    dim,
    classes: [...classes],
    input: {
      height,
      width,
      channels: channels as 1 | 3,
      mean,
      std,
      normalizedInGraph: true,
      ...(options.fit ? { fit: options.fit } : {}),
    },
    ...(options.loss ? { loss: options.loss } : {}),
    ...(options.training ? { training: options.training } : {}),
    ...(options.metrics ? { metrics: options.metrics } : {}),
  };
  await writeBundle(dir, { manifest, anchors, model: onnx });
  return manifest;
}

/**
 * Reads a training checkpoint (a run folder or its `checkpoint/`) and writes its model bundle to
 * `out`, recording the loss and its options, the training configuration and progress, and
 * `metrics` if given. The bundle's anchors are the checkpoint's class anchors; a checkpoint of a
 * loss without anchors that stopped before training finished gets the class means of its training
 * set's embeddings, computed here. Returns the manifest written.
 */
export async function exportCheckpointBundle(
  checkpoint: string,
  out: string,
  options: { inputType?: 'uint8' | 'float32'; metrics?: Record<string, unknown> } = {},
): Promise<BundleManifest> {
  const { snapshot, state } = await loadCheckpoint(checkpoint);
  const model = await modelFromSnapshot(snapshot.model);
  try {
    const c = state.config;
    let anchors = snapshot.classAnchors;
    if (anchors === undefined) {
      const trainSet = await loadTrainingSet(c);
      try {
        const vectors = await retrievalEmbeddings(model, trainSet, state);
        anchors = classMeans(vectors, trainSet.labels, trainSet.classes.length, state.dim);
      } finally {
        if (isStreaming(trainSet)) trainSet.close();
      }
    }
    return await exportModelBundle(out, {
      model,
      anchors,
      embedding: state.embedding,
      classes: state.dataset.classNames,
      normalization: { mean: state.input.mean, std: state.input.std },
      ...(state.input.fit ? { fit: state.input.fit } : {}),
      ...(options.inputType ? { inputType: options.inputType } : {}),
      loss: {
        name: c.loss,
        ...c.lossOptions,
        embedding: state.embedding,
        classAnchors: state.classAnchors,
      },
      training: {
        dataset: state.dataset.name,
        trainSize: state.dataset.trainSize,
        backbone: c.backbone,
        epochs: c.epochs,
        epochsCompleted: state.progress.epoch,
        steps: state.progress.step,
        batchSize: c.batchSize,
        optimizer: 'adam',
        lr: c.lr,
        lossLr: c.lossLr,
        seed: c.seed,
        shots: c.shots ?? null,
        limit: c.limit ?? null,
        backend: state.backend,
        wallTimeMs: state.progress.elapsedMs,
        ...(state.lastTerms ? { lastTerms: state.lastTerms } : {}),
        savedAt: state.savedAt,
      },
      ...(options.metrics ? { metrics: options.metrics } : {}),
    });
  } finally {
    model.dispose();
  }
}
