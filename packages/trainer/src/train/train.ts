import { appendFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { BackendRequest } from '../backends';
import {
  batchCount,
  changesInput,
  epochOrder,
  type ImageFit,
  type ImageSet,
  type InputOptions,
  isStreaming,
  iterateBatches,
  limitIndices,
  type OpenSplitOptions,
  openSplit,
  sampleShots,
} from '../data';
import { l2NormalizeRowsInPlace } from '../losses';
import { Random, type RandomState } from '../random';
import {
  CHECKPOINT_DIR,
  CHECKPOINT_FORMAT_VERSION,
  type CheckpointState,
  loadCheckpoint,
  resolveCheckpointDir,
  saveCheckpoint,
  type TrainingSnapshot,
  type TrainProgress,
} from './checkpoint';
import { classMeans } from './class-means';
import { resolveTrainConfig, type TrainConfig, type TrainConfigInput } from './config';
import type { StepTerms, TrainingEngine } from './engine';
import { createProgressReporter } from './progress';

/** What {@link train} reports after each applied step. */
export interface StepEvent {
  epoch: number;
  /** Steps applied since the start of the run (resumed sessions included). */
  step: number;
  batchInEpoch: number;
  batchesPerEpoch: number;
  terms: StepTerms;
  /** Images in this step's batch. */
  batchSize: number;
}

/** Options of {@link train} that are not part of the run's config. */
export interface TrainOptions {
  /** The run's output folder: `checkpoint/` and `metrics.jsonl` live there. */
  out: string;
  /**
   * Continue from `out`'s checkpoint. The config comes from the checkpoint; only `epochs`,
   * `backend`, `workers`, `lr` and `lossLr` given in the input replace the recorded ones.
   */
  resume?: boolean;
  /** Aborting stops after the current step and writes a checkpoint (the CLI wires SIGINT to it). */
  signal?: AbortSignal;
  /** No progress bar and no log lines. */
  quiet?: boolean;
  /**
   * Also write a checkpoint every this many steps (default: only after each epoch and when
   * stopped). A resume continues from the step saved, bit for bit.
   */
  checkpointEverySteps?: number;
  /** Called after every applied step. */
  onStep?: (event: StepEvent) => void;
  /** Where human-readable lines go (default: stderr). */
  log?: (line: string) => void;
}

/** How a run ended. */
export interface TrainResult {
  status: 'completed' | 'stopped';
  config: TrainConfig;
  progress: TrainProgress;
  checkpointDir: string;
  lastTerms: StepTerms | undefined;
  backend: string;
}

/** Creates the engine a config asks for; the parallel engine is loaded only when used. */
async function createEngine(
  config: TrainConfig,
  inputShape: [number, number, number],
  classes: number,
  snapshot: TrainingSnapshot | undefined,
  log: (line: string) => void,
): Promise<TrainingEngine> {
  if (config.workers > 1) {
    const { createParallelEngine } = await import('../parallel');
    return createParallelEngine({ config, inputShape, classes, snapshot, workers: config.workers });
  }
  const { selectBackend } = await import('../backends');
  await selectBackend(config.backend as BackendRequest, { log });
  const { createLocalEngine } = await import('./local-engine');
  return createLocalEngine({ config, inputShape, classes, snapshot });
}

/** The input conversion a config asks for (`--image-size`, `--channels`, `--fit`). */
export function inputOptions(config: Pick<TrainConfig, 'imageSize' | 'channels' | 'fit'>): InputOptions {
  return { imageSize: config.imageSize, channels: config.channels, fit: config.fit };
}

/** The format and cache options a config records (`--label-set`, `--test-fraction`, …). */
export function splitOptions(
  config: TrainConfig,
): Pick<OpenSplitOptions, 'labelSet' | 'testFraction' | 'seed' | 'extra' | 'skipBadImages' | 'cache'> {
  return {
    labelSet: config.labelSet,
    testFraction: config.testFraction,
    seed: config.seed,
    extra: config.extra,
    skipBadImages: config.skipBadImages,
    cache: config.cache,
  };
}

/**
 * The training split after `shots` and `limit`, exactly as the run sees it: only the images kept
 * are converted or decoded. Close it (`isStreaming(set) && set.close()`) when done.
 */
export async function loadTrainingSet(
  config: TrainConfig,
  options: { log?: (line: string) => void } = {},
): Promise<ImageSet> {
  const { shots, limit, seed } = config;
  return openSplit({
    name: config.dataset,
    dir: config.data,
    split: 'train',
    input: inputOptions(config),
    ...splitOptions(config),
    ...(options.log ? { log: options.log } : {}),
    pick: (labels, classCount) => {
      let kept: Int32Array = Int32Array.from({ length: labels.length }, (_, i) => i);
      if (shots !== undefined) kept = sampleShots(labels, shots, seed, classCount);
      if (limit !== undefined && limit < kept.length) {
        kept = Int32Array.from(limitIndices(kept.length, limit, seed), (i) => kept[i]!);
      }
      return kept;
    },
  });
}

/** The fit policy a split was resized with; undefined when it kept the dataset's own size. */
export function fitUsed(config: TrainConfig, set: ImageSet): ImageFit | undefined {
  return isStreaming(set) || changesInput(inputOptions(config)) ? (config.fit ?? 'cover') : undefined;
}

/**
 * The class means of the training set's retrieval embeddings (normalised when the loss's are):
 * the class anchors of a loss that has none of its own, computed once training has finished.
 */
async function trainingClassMeans(
  engine: TrainingEngine,
  trainSet: ImageSet,
  config: TrainConfig,
): Promise<Float32Array> {
  const classes = trainSet.classes.length;
  const vectors = new Float32Array(trainSet.labels.length * config.dim);
  let offset = 0;
  for (const batch of iterateBatches(trainSet, { batchSize: 256, normalization: config.normalization })) {
    vectors.set(await engine.embed(batch), offset);
    offset += batch.size * config.dim;
  }
  if (engine.embedding === 'l2-normalized') l2NormalizeRowsInPlace(vectors, config.dim);
  return classMeans(vectors, trainSet.labels, classes, config.dim);
}

/**
 * Trains a backbone with a registered loss (CAM by default) and the loss's own variables. Seeded end to end: the same config
 * on the same backend gives the same weights, and a run stopped and resumed from its checkpoint
 * gives the same weights as one that never stopped. Writes `out/metrics.jsonl` (one JSON object
 * per step and per epoch) and `out/checkpoint/` after every epoch and when stopped. A NaN/Inf
 * loss throws `AnchorageError` (code `NON_FINITE`) and leaves the last good checkpoint in place.
 * @example
 * const result = await train({ dataset: 'fashion-mnist', epochs: 5 }, { out: 'runs/fmnist' });
 */
export async function train(input: TrainConfigInput, options: TrainOptions): Promise<TrainResult> {
  const log = options.quiet
    ? () => {}
    : (options.log ?? ((line: string) => process.stderr.write(`${line}\n`)));
  const checkpointDir = join(options.out, CHECKPOINT_DIR);
  const existing = await resolveCheckpointDir(options.out);
  let config: TrainConfig;
  let restored: { snapshot: TrainingSnapshot; state: CheckpointState } | undefined;
  if (options.resume && existing !== undefined) {
    restored = await loadCheckpoint(options.out);
    const recorded = restored.state.config;
    config = resolveTrainConfig({
      ...recorded,
      epochs: input.epochs ?? recorded.epochs,
      backend: input.backend ?? recorded.backend,
      workers: input.workers ?? recorded.workers,
      lr: input.lr ?? recorded.lr,
      lossLr: input.lossLr ?? recorded.lossLr,
    });
    log(
      `resuming ${existing} at epoch ${restored.state.progress.epoch + 1}, step ${restored.state.progress.step}`,
    );
  } else {
    if (existing !== undefined) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `${options.out} already holds a checkpoint: pass resume (--resume) to continue it or choose another out folder`,
        { argument: 'out', value: options.out },
      );
    }
    config = resolveTrainConfig(input);
    if (options.resume) log(`no checkpoint in ${options.out}: starting a new run`);
  }

  const trainSet = await loadTrainingSet(config, { log });
  const fit = fitUsed(config, trainSet);
  const inputShape: [number, number, number] = [trainSet.height, trainSet.width, trainSet.channels];
  const classes = trainSet.classes.length;
  const size = trainSet.labels.length;
  const batchesPerEpoch = batchCount(size, config.batchSize);

  const rng = new Random(config.seed);
  const progress: TrainProgress = restored
    ? { ...restored.state.progress }
    : { epoch: 0, batchInEpoch: 0, step: 0, epochRngState: rng.getState(), elapsedMs: 0 };
  let lastTerms: StepTerms | undefined = restored?.state.lastTerms;

  const engine = await createEngine(config, inputShape, classes, restored?.snapshot, log);
  mkdirSync(options.out, { recursive: true });
  const metricsPath = join(options.out, 'metrics.jsonl');
  const record = (entry: object): void => appendFileSync(metricsPath, `${JSON.stringify(entry)}\n`);
  record({
    type: 'start',
    resumed: restored !== undefined,
    backend: engine.backend,
    trainSize: size,
    config,
  });
  log(
    `training ${config.backbone} (d=${config.dim}) with ${config.loss} on ${config.dataset} (${size} images, ${classes} classes), ` +
      `${config.epochs} epochs × ${batchesPerEpoch} batches of ${config.batchSize}, backend ${engine.backend}`,
  );

  let hasCheckpoint = restored !== undefined;
  // Class means are the class anchors of a loss without its own; known once training has finished.
  let finalClassMeans: Float32Array | undefined;
  const checkpoint = async (): Promise<void> => {
    const state: CheckpointState = {
      formatVersion: CHECKPOINT_FORMAT_VERSION,
      config,
      dataset: { name: config.dataset, classes, classNames: [...trainSet.classes], trainSize: size },
      input: {
        height: inputShape[0],
        width: inputShape[1],
        channels: inputShape[2],
        mean: [...config.normalization.mean],
        std: [...config.normalization.std],
        ...(fit ? { fit } : {}),
      },
      dim: config.dim,
      embedding: engine.embedding,
      classAnchors: engine.classAnchors,
      progress: { ...progress },
      lastTerms,
      backend: engine.backend,
      savedAt: new Date().toISOString(),
    };
    const snapshot = await engine.snapshot();
    if (snapshot.classAnchors === undefined && finalClassMeans !== undefined)
      snapshot.classAnchors = finalClassMeans;
    await saveCheckpoint(checkpointDir, snapshot, state);
    hasCheckpoint = true;
  };

  const reporter = createProgressReporter({
    enabled: !options.quiet,
    total: config.epochs * batchesPerEpoch,
    start: progress.step,
    log,
  });
  let sessionStart = performance.now();
  const elapsed = (): number => progress.elapsedMs + (performance.now() - sessionStart);
  const result = (status: TrainResult['status']): TrainResult => ({
    status,
    config,
    progress: { ...progress },
    checkpointDir,
    lastTerms,
    backend: engine.backend,
  });

  try {
    while (progress.epoch < config.epochs) {
      const epoch = progress.epoch;
      await engine.beginEpoch?.(epoch);
      rng.setState(progress.epochRngState as RandomState);
      const order = epochOrder(size, rng);
      const epochSums: Record<string, number> = {};
      let epochCount = 0;
      const batches = iterateBatches(trainSet, {
        batchSize: config.batchSize,
        order,
        startBatch: progress.batchInEpoch,
        normalization: config.normalization,
        ...(config.augment ? { augment: { policy: config.augment, seed: config.seed, epoch } } : {}),
      });
      for (const batch of batches) {
        const stepStart = performance.now();
        const outcome = await engine.step(batch);
        if (!outcome.applied) {
          reporter.stop();
          const t = outcome.terms;
          const parts = Object.entries(t).filter(([name]) => name !== 'loss');
          const message =
            `the ${config.loss} loss became ${t.loss} at epoch ${epoch + 1}, batch ${progress.batchInEpoch + 1}` +
            `${parts.length > 0 ? ` (${parts.map(([n, v]) => `${n} ${v}`).join(', ')})` : ''}; training stopped. ` +
            (hasCheckpoint
              ? `The last good checkpoint is kept in ${checkpointDir}. `
              : 'No checkpoint was written. ') +
            'Lower --lr / --loss-lr.';
          record({ type: 'error', code: 'NON_FINITE', epoch, step: progress.step, terms: t, message });
          throw new AnchorageError('NON_FINITE', message, { argument: 'lr', value: config.lr });
        }
        progress.batchInEpoch += 1;
        progress.step += 1;
        lastTerms = outcome.terms;
        for (const [name, value] of Object.entries(outcome.terms)) {
          epochSums[name] = (epochSums[name] ?? 0) + value * batch.size;
        }
        epochCount += batch.size;
        const stepMs = performance.now() - stepStart;
        record({ type: 'step', epoch, step: progress.step, ...outcome.terms, images: batch.size, stepMs });
        reporter.update(progress.step, {
          epoch: epoch + 1,
          epochs: config.epochs,
          terms: outcome.terms,
          images: batch.size,
          stepMs,
        });
        options.onStep?.({
          epoch,
          step: progress.step,
          batchInEpoch: progress.batchInEpoch,
          batchesPerEpoch,
          terms: outcome.terms,
          batchSize: batch.size,
        });
        // Steps on cpu/wasm finish synchronously; without a turn of the event loop a SIGINT handler
        // (and anything else waiting on I/O) would never run until training ended.
        await new Promise<void>((resolve) => setImmediate(resolve));
        const every = options.checkpointEverySteps;
        if (every !== undefined && progress.step % every === 0 && progress.batchInEpoch < batchesPerEpoch) {
          progress.elapsedMs = elapsed();
          sessionStart = performance.now();
          await checkpoint();
        }
        if (options.signal?.aborted) {
          reporter.stop();
          progress.elapsedMs = elapsed();
          sessionStart = performance.now();
          await checkpoint();
          record({ type: 'stopped', epoch, step: progress.step, elapsedMs: progress.elapsedMs });
          log(
            `stopped at epoch ${epoch + 1}, step ${progress.step}; checkpoint in ${checkpointDir} (resume with --resume)`,
          );
          return result('stopped');
        }
      }
      progress.epoch += 1;
      progress.batchInEpoch = 0;
      progress.epochRngState = rng.getState();
      progress.elapsedMs = elapsed();
      if (progress.epoch === config.epochs && engine.classAnchors === 'class-means') {
        finalClassMeans = await trainingClassMeans(engine, trainSet, config);
      }
      sessionStart = performance.now();
      await checkpoint();
      const n = Math.max(epochCount, 1);
      const means = Object.fromEntries(Object.entries(epochSums).map(([name, sum]) => [name, sum / n]));
      record({ type: 'epoch', epoch, step: progress.step, ...means, elapsedMs: progress.elapsedMs });
      const { loss: meanLoss = Number.NaN, ...meanTerms } = means;
      const details = Object.entries(meanTerms).map(([name, v]) => `${name} ${v.toFixed(4)}`);
      reporter.log(
        `epoch ${epoch + 1}/${config.epochs}: loss ${meanLoss.toFixed(4)}` +
          `${details.length > 0 ? ` (${details.join(', ')})` : ''}, ${(progress.elapsedMs / 1000).toFixed(1)} s`,
      );
    }
    reporter.stop();
    record({ type: 'end', step: progress.step, elapsedMs: progress.elapsedMs });
    return result('completed');
  } finally {
    reporter.stop();
    await engine.dispose();
    if (isStreaming(trainSet)) trainSet.close();
  }
}
