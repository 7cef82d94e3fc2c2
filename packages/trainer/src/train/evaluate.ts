import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import {
  allImages,
  type ImageSet,
  type InputOptions,
  imageSize,
  isStreaming,
  iterateBatches,
  type Normalization,
  type OpenSplitOptions,
  openSplit,
  sampleShots,
} from '../data';
import { l2NormalizeRowsInPlace } from '../losses';
import { type CheckpointState, loadCheckpoint, modelFromSnapshot } from './checkpoint';
import { classMeans } from './class-means';
import type { TrainConfig } from './config';
import {
  evaluateRetrieval,
  type RetrievalMetrics,
  type TwoStageBuckets,
  type TwoStageMetrics,
} from './retrieval-metrics';

/** Embeds every image of a dataset (in order) with a model: N×d row-major. */
export async function embedWithModel(
  model: tf.LayersModel,
  dataset: ImageSet,
  normalization: Normalization,
  batchSize = 256,
): Promise<Float32Array> {
  const n = dataset.labels.length;
  const dim = (model.outputs[0]!.shape as number[])[1]!;
  const out = new Float32Array(n * dim);
  let offset = 0;
  for (const batch of iterateBatches(dataset, { batchSize, normalization })) {
    const embeddings = tf.tidy(() => {
      const x = tf.tensor4d(batch.images, [batch.size, dataset.height, dataset.width, dataset.channels]);
      return model.predict(x) as tf.Tensor;
    });
    // an asynchronous read: webgpu in Node cannot read back synchronously (and none is needed)
    const values = (await embeddings.data()) as Float32Array;
    embeddings.dispose();
    out.set(values, offset);
    offset += values.length;
  }
  return out;
}

/** A model restored from a checkpoint, ready for inference. */
export interface LoadedCheckpoint {
  model: tf.LayersModel;
  /**
   * The class anchors of the two-stage index, C×d row-major: the loss's own, or the class means
   * recorded when training finished; `undefined` when neither is known (a stopped run of a loss
   * without anchors).
   */
  classAnchors: Float32Array | undefined;
  state: CheckpointState;
}

/**
 * Loads the model, class anchors and state of a checkpoint (a run's output folder or its
 * `checkpoint/`). The tfjs backend must already be selected.
 */
export async function loadCheckpointModel(path: string): Promise<LoadedCheckpoint> {
  const { snapshot, state } = await loadCheckpoint(path);
  const model = await modelFromSnapshot(snapshot.model);
  return { model, classAnchors: snapshot.classAnchors, state };
}

/**
 * The retrieval embeddings of a dataset as a checkpoint defines them: the model's outputs,
 * L2-normalised when the loss trained on normalised embeddings.
 */
export async function retrievalEmbeddings(
  model: tf.LayersModel,
  dataset: ImageSet,
  state: Pick<CheckpointState, 'input' | 'embedding' | 'dim'>,
): Promise<Float32Array> {
  const vectors = await embedWithModel(model, dataset, { mean: state.input.mean, std: state.input.std });
  return state.embedding === 'l2-normalized' ? l2NormalizeRowsInPlace(vectors, state.dim) : vectors;
}

/** The result of `anchorage-train eval`: the protocol's numbers and what they were measured on. */
export interface EvalReport extends RetrievalMetrics {
  dataset: string;
  /** What was ranked: the model's embeddings or normalised raw pixels. */
  method: 'model' | 'pixels';
  databaseSize: number;
  querySize: number;
  dim: number;
  /** Two-stage search per probe (model evaluation only). */
  twoStage: TwoStageMetrics[];
  /**
   * Where the two-stage search's class anchors came from: the loss's own (`loss`), or class means
   * of the training embeddings (`class-means`; computed from the database when the checkpoint has none).
   */
  classAnchors?: 'loss' | 'class-means';
  /** Wall time of embedding and ranking, ms. */
  wallMs: number;
  /** For a model: the training config and progress recorded in the checkpoint. */
  training?: Pick<CheckpointState, 'config' | 'progress' | 'backend'>;
}

async function splits(
  name: string,
  dir: string | undefined,
  shots: { shots: number; seed: number } | undefined,
  input: InputOptions | undefined,
  options: Omit<OpenSplitOptions, 'name' | 'dir' | 'split' | 'input'>,
): Promise<{ database: ImageSet; queries: ImageSet }> {
  // the evaluation protocol (apps/docs/src/concepts/evaluation.md): a few-shot model's database is the same reduced split it was trained on
  // unless the caller asks for the full training split (shots undefined here)
  const pick = shots
    ? (labels: Int32Array, classCount: number) => sampleShots(labels, shots.shots, shots.seed, classCount)
    : undefined;
  const database = await openSplit({
    ...options,
    name,
    dir,
    split: 'train',
    input,
    ...(pick ? { pick } : {}),
  });
  const queries = await openSplit({ ...options, name, dir, split: 'test', input });
  return { database, queries };
}

function closeAll(...sets: ImageSet[]): void {
  for (const set of sets) if (isStreaming(set)) set.close();
}

/**
 * Evaluates a checkpoint with the evaluation protocol (apps/docs/src/concepts/evaluation.md): database = the training split's embeddings
 * (the few-shot split when the model was trained few-shot; `limit` is ignored), queries = the
 * test split; plus the two-stage search with each of `probes`.
 */
export async function evaluateCheckpoint(options: {
  checkpoint: string;
  dataset?: string;
  data?: string;
  probes?: readonly number[];
  /** Bucketings of the database for the two-stage search (default: labels only). */
  buckets?: readonly TwoStageBuckets[];
  /**
   * The database of a few-shot model: the reduced split it was trained on (`trained`, the
   * protocol's default) or the whole training split (`full`). Full-set models use the whole split either way.
   */
  database?: 'trained' | 'full';
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}): Promise<EvalReport> {
  const log = options.log ?? (() => {});
  const started = performance.now();
  const { model, classAnchors, state } = await loadCheckpointModel(options.checkpoint);
  try {
    const name = options.dataset ?? state.config.dataset;
    const dir = options.data ?? (options.dataset === undefined ? state.config.data : undefined);
    const shots =
      state.config.shots === undefined || options.database === 'full'
        ? undefined
        : { shots: state.config.shots, seed: state.config.seed };
    // the images the model was trained on: converted as the checkpoint's input says
    const { height, width, channels, fit } = state.input;
    const input = height === width ? { imageSize: height, channels, fit } : undefined;
    const c = state.config;
    const { database, queries } = await splits(name, dir, shots, input, {
      labelSet: c.labelSet,
      testFraction: c.testFraction,
      seed: c.seed,
      extra: c.extra,
      skipBadImages: c.skipBadImages,
      cache: c.cache,
      log,
    });
    try {
      const classes = database.classes.length;
      if (classes !== state.dataset.classes) {
        throw new AnchorageError(
          'DIMENSION_MISMATCH',
          `dataset ${name} has ${classes} classes but the checkpoint's anchors are for ${state.dataset.classes}`,
          { argument: 'dataset', value: name },
        );
      }
      log(`embedding ${database.labels.length} database and ${queries.labels.length} query images…`);
      const dbVectors = await retrievalEmbeddings(model, database, state);
      const queryVectors = await retrievalEmbeddings(model, queries, state);
      const anchors = classAnchors ?? classMeans(dbVectors, database.labels, classes, state.dim);
      log(`ranking (${((performance.now() - started) / 1000).toFixed(1)} s so far)…`);
      const { exhaustive, twoStage } = evaluateRetrieval({
        database: dbVectors,
        databaseLabels: database.labels,
        queries: queryVectors,
        queryLabels: queries.labels,
        dim: state.dim,
        classes,
        anchors,
        probes: options.probes ?? [1, 2, 3],
        ...(options.buckets === undefined ? {} : { buckets: options.buckets }),
      });
      return {
        dataset: name,
        method: 'model',
        databaseSize: database.labels.length,
        querySize: queries.labels.length,
        dim: state.dim,
        ...exhaustive,
        twoStage,
        classAnchors: state.classAnchors,
        wallMs: performance.now() - started,
        training: { config: state.config, progress: state.progress, backend: state.backend },
      };
    } finally {
      closeAll(database, queries);
    }
  } finally {
    model.dispose();
  }
}

/**
 * The raw-pixel L2 baseline: the same protocol on the images themselves (pixels / 255), the
 * reference a trained embedding has to beat.
 */
export async function evaluatePixelBaseline(options: {
  dataset: string;
  data?: string;
  /** Convert the images first (`--image-size`, `--channels`, `--fit`). */
  input?: InputOptions;
  /** Format options (`--label-set`, `--test-fraction`, …). */
  formatOptions?: Omit<OpenSplitOptions, 'name' | 'dir' | 'split' | 'input'>;
}): Promise<EvalReport> {
  const started = performance.now();
  const { database, queries } = await splits(
    options.dataset,
    options.data,
    undefined,
    options.input,
    options.formatOptions ?? {},
  );
  const dim = imageSize(database);
  const toFloat = (d: ImageSet) => Float32Array.from(allImages(d), (p) => p / 255);
  const [databasePixels, queryPixels] = [toFloat(database), toFloat(queries)];
  closeAll(database, queries);
  const { exhaustive } = evaluateRetrieval({
    database: databasePixels,
    databaseLabels: database.labels,
    queries: queryPixels,
    queryLabels: queries.labels,
    dim,
    classes: database.classes.length,
  });
  return {
    dataset: options.dataset,
    method: 'pixels',
    databaseSize: database.labels.length,
    querySize: queries.labels.length,
    dim,
    ...exhaustive,
    twoStage: [],
    wallMs: performance.now() - started,
  };
}

function lossText(config: TrainConfig | undefined): string {
  if (config === undefined) return 'unknown loss';
  const options = Object.entries(config.lossOptions).map(([name, v]) => `${name} ${v}`);
  return options.length > 0 ? `${config.loss} (${options.join(', ')})` : config.loss;
}

function pct(value: number): string {
  return `${(100 * value).toFixed(2)}`;
}

/** The protocol table as printed by `anchorage-train eval`. */
export function formatEvalReport(report: EvalReport): string {
  const lines: string[] = [];
  const what =
    report.method === 'pixels'
      ? `raw pixels (${report.dim}-d, L2)`
      : `${report.training?.config.backbone ?? 'model'} d=${report.dim}, ${lossText(report.training?.config)}, ` +
        `${report.training?.progress.epoch} epochs` +
        (report.classAnchors === 'class-means' ? '; two-stage anchors: class means' : '');
  lines.push(
    `${report.dataset}: database ${report.databaseSize} (train), queries ${report.querySize} (test); ${what}`,
  );
  const table = (twoStage: readonly TwoStageMetrics[]) => {
    const header = ['', 'exhaustive', ...twoStage.map((t) => `probe ${t.probe}`)];
    const rows: string[][] = [
      ['mAP', pct(report.mAP), ...twoStage.map((t) => pct(t.mAP))],
      ['mAP@100', pct(report.mapAt100), ...twoStage.map((t) => pct(t.mapAt100))],
      ['P@10', pct(report.precisionAt10), ...twoStage.map((t) => pct(t.precisionAt10))],
      ['P@100', pct(report.precisionAt100), ...twoStage.map((t) => pct(t.precisionAt100))],
    ];
    if (twoStage.length > 0) {
      rows.push(['mAP kept', '100.00', ...twoStage.map((t) => pct(t.mapKept))]);
      rows.push(['scanned', '100.00', ...twoStage.map((t) => pct(t.fractionScanned))]);
      rows.push(['stage-1 recall', '-', ...twoStage.map((t) => pct(t.stage1Recall))]);
    }
    const widths = header.map((_, i) => Math.max(...[header, ...rows].map((r) => r[i]!.length)));
    const line = (cells: string[]) =>
      cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
    lines.push(`${line(header)}   (%)`);
    for (const row of rows) lines.push(line(row));
  };
  const byLabels = report.twoStage.filter((t) => t.buckets !== 'nearest-anchor');
  const byAnchor = report.twoStage.filter((t) => t.buckets === 'nearest-anchor');
  if (byAnchor.length > 0 && byLabels.length > 0) lines.push('database bucketed by its labels:');
  if (byLabels.length > 0 || byAnchor.length === 0) table(byLabels);
  if (byAnchor.length > 0) {
    lines.push("database bucketed by each item's nearest anchor (labels unused):");
    table(byAnchor);
  }
  lines.push(`wall time ${(report.wallMs / 1000).toFixed(1)} s`);
  return lines.join('\n');
}
