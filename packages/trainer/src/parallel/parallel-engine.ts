import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AnchorageError } from '@anchorage/loss-core';
import { modelSnapshot, type TrainingSnapshot } from '../train/checkpoint';
import type { TrainConfig } from '../train/config';
import type { EngineBatch, StepOutcome, StepTerms, TrainingEngine } from '../train/engine';
import type { FlatGradients } from '../train/local-engine';
import type { WorkerRequest, WorkerResponse } from './protocol';

/** Options of {@link createParallelEngine}. */
export interface ParallelEngineOptions {
  config: TrainConfig;
  inputShape: [number, number, number];
  classes: number;
  snapshot?: TrainingSnapshot | undefined;
  /** Number of worker threads (replicas), ≥ 1. */
  workers: number;
}

/** A data-parallel engine; `weights()` exposes every replica's weights (they must be identical). */
export interface ParallelEngine extends TrainingEngine {
  readonly workers: number;
  /** Each replica's model weights then loss variables, flattened. */
  weights(): Promise<Float32Array[]>;
  /**
   * The loss of a batch and its gradient as the replicas combine them, without applying it: what
   * `LocalEngine.gradients` gives on one thread for the whole batch.
   */
  gradients(batch: EngineBatch): Promise<FlatGradients>;
}

/**
 * Starts a training worker. From the built package it is `dist/parallel/worker.js`, beside the
 * chunk that holds this code in `dist/`; from TypeScript source (the workspace, tests) the worker
 * registers tsx's require hook first, because Node 20 does not apply `--import tsx` module hooks
 * inside worker threads.
 */
export function startWorker(): Worker {
  const here = import.meta.url;
  if (here.endsWith('.ts')) {
    const tsx = createRequire(here).resolve('tsx/cjs/api');
    const source = fileURLToPath(new URL('./worker.ts', here));
    return new Worker(`require(${JSON.stringify(tsx)}).register();require(${JSON.stringify(source)});`, {
      eval: true,
    });
  }
  return new Worker(new URL('./parallel/worker.js', here));
}

class Replica {
  private readonly worker: Worker;
  private pending: { resolve: (r: WorkerResponse) => void; reject: (e: Error) => void }[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker = startWorker();
    this.worker.on('message', (response: WorkerResponse) => {
      const waiter = this.pending.shift();
      if (waiter === undefined) return;
      if (response.type === 'error') {
        const error = new AnchorageError(
          response.code ?? 'WORKER_FAILED',
          `training worker: ${response.message}`,
        );
        if (response.stack !== undefined) error.stack = response.stack;
        waiter.reject(error);
      } else waiter.resolve(response);
    });
    const fail = (error: Error): void => {
      this.failure = error;
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => fail(new Error(`training worker exited with code ${code}`)));
  }

  request<T extends WorkerResponse['type']>(
    message: WorkerRequest,
    expect: T,
    transfer: ArrayBuffer[] = [],
  ): Promise<Extract<WorkerResponse, { type: T }>> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      this.pending.push({
        resolve: (r) =>
          r.type === expect
            ? resolve(r as Extract<WorkerResponse, { type: T }>)
            : reject(new Error(`training worker answered ${r.type} to ${message.type}`)),
        reject,
      });
      this.worker.postMessage(message, transfer);
    });
  }

  async terminate(): Promise<void> {
    this.worker.removeAllListeners('exit');
    await this.worker.terminate();
  }
}

/** The seeded initial backbone, built on this thread, as topology and weights. */
async function initialModel(
  config: TrainConfig,
  inputShape: [number, number, number],
): Promise<TrainingSnapshot['model']> {
  const tf = await import('@tensorflow/tfjs');
  const { loadBackbone } = await import('../models');
  // any backend builds the same seeded weights (tfjs's initialisers draw in JavaScript)
  if (tf.engine().backendName == null) await tf.setBackend('cpu');
  const model = await loadBackbone(config.backbone, {
    ...config.backboneOptions,
    inputShape,
    dim: config.dim,
    seed: config.seed,
  });
  try {
    return await modelSnapshot(model);
  } finally {
    model.dispose();
  }
}

/**
 * The replicas' moving statistics averaged with the shards' weights (each replica normalised its
 * own shard, as data-parallel batch norm without synchronisation does); undefined when none.
 */
function weightedMean(
  parts: readonly (Float32Array | undefined)[],
  weights: readonly number[],
): Float32Array | undefined {
  if (parts.length === 0 || parts[0] === undefined) return undefined;
  const out = new Float32Array(parts[0].length);
  parts.forEach((p, i) => {
    for (let k = 0; k < out.length; k++) out[k]! += weights[i]! * p![k]!;
  });
  return out;
}

/** Splits a batch into `parts` contiguous shards (sizes differ by at most one; empty ones dropped). */
export function shardBatch(batch: EngineBatch, parts: number): EngineBatch[] {
  const pixels = batch.images.length / batch.size;
  const shards: EngineBatch[] = [];
  let start = 0;
  for (let i = 0; i < parts; i++) {
    const size = Math.floor(batch.size / parts) + (i < batch.size % parts ? 1 : 0);
    if (size === 0) continue;
    shards.push({
      images: batch.images.slice(start * pixels, (start + size) * pixels),
      labels: batch.labels.slice(start, start + size),
      size,
    });
    start += size;
  }
  return shards;
}

function concat(parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}

/**
 * Data-parallel training over worker threads, each with its own tfjs backend (wasm, one thread
 * each in Node) and a full replica of the model, the loss's variables and both optimisers. Every
 * step is exact, whatever the loss:
 * - a loss that is a mean over the batch (`meanOverBatch`: CAM, cross-entropy, center): each
 *   replica differentiates its shard and the main thread averages the gradients weighted by shard
 *   size;
 * - an in-batch loss (contrastive, triplet, proxy-anchor): each replica sends its shard's
 *   embeddings, the first replica computes the loss of the whole batch and its gradient by the
 *   embeddings and the loss's variables, and each replica back-propagates its slice of it.
 * The combined gradient goes to every replica, which applies it with its own optimisers (and runs
 * the loss's `afterStep` on the whole batch). Replicas start from one snapshot, so they stay identical.
 */
export async function createParallelEngine(options: ParallelEngineOptions): Promise<ParallelEngine> {
  const { config, inputShape, classes, workers } = options;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `workers must be a positive integer, got ${workers}`, {
      argument: 'workers',
      value: workers,
    });
  }
  // The backbone is built here, where it was registered or its model file named, and the replicas
  // receive its topology and weights: a worker's fresh module instance knows only the built-ins.
  const model = options.snapshot === undefined ? await initialModel(config, inputShape) : undefined;
  const replicas = Array.from({ length: workers }, () => new Replica());
  try {
    const init = (snapshot: TrainingSnapshot | undefined): WorkerRequest => ({
      type: 'init',
      config,
      inputShape,
      classes,
      snapshot,
      ...(snapshot === undefined && model !== undefined ? { model } : {}),
    });
    // The first replica initialises (the loss, seeded) and the others start from its snapshot, so
    // they are identical whatever the backend's initialisers do.
    const first = await replicas[0]!.request(init(options.snapshot), 'ready');
    const snapshot =
      options.snapshot ?? (await replicas[0]!.request({ type: 'snapshot' }, 'snapshot')).snapshot;
    await Promise.all(replicas.slice(1).map((r) => r.request(init(snapshot), 'ready')));
    const length = first.gradientLength;
    const dim = config.dim;
    const transfer = (shard: EngineBatch): ArrayBuffer[] => [
      shard.images.buffer as ArrayBuffer,
      shard.labels.buffer as ArrayBuffer,
    ];

    /**
     * Sends the combined gradient, the averaged moving statistics and the batch for `afterStep` to
     * every replica.
     */
    const applyEverywhere = async (
      values: Float32Array,
      state: Float32Array | undefined,
      embeddings: Float32Array | undefined,
      labels: Int32Array,
    ) => {
      await Promise.all(
        replicas.map((r, i) => {
          const last = i === replicas.length - 1;
          const copy = last ? values : values.slice();
          const message: WorkerRequest = { type: 'apply', values: copy };
          const buffers = [copy.buffer as ArrayBuffer];
          if (state !== undefined) {
            message.state = last ? state : state.slice();
            buffers.push(message.state.buffer as ArrayBuffer);
          }
          if (embeddings !== undefined) {
            const e = last ? embeddings : embeddings.slice();
            message.afterStep = { embeddings: e, labels: labels.slice() };
            buffers.push(e.buffer as ArrayBuffer);
          }
          return r.request(message, 'applied', buffers);
        }),
      );
    };

    const meanGradients = async (batch: EngineBatch): Promise<FlatGradients> => {
      const shards = shardBatch(batch, workers);
      const results = await Promise.all(
        shards.map((shard, i) =>
          replicas[i]!.request({ type: 'gradients', batch: shard }, 'gradients', transfer(shard)),
        ),
      );
      const terms: StepTerms = { loss: 0 };
      const average = new Float32Array(length);
      let finite = true;
      results.forEach((result, i) => {
        const weight = shards[i]!.size / batch.size;
        for (const [name, value] of Object.entries(result.terms))
          terms[name] = (terms[name] ?? 0) + weight * value;
        if (result.values === undefined) {
          finite = false;
          return;
        }
        for (let k = 0; k < length; k++) average[k]! += weight * result.values[k]!;
      });
      if (!finite || !Number.isFinite(terms.loss)) return { terms, values: undefined };
      const state = weightedMean(
        results.map((r) => r.state),
        shards.map((s) => s.size / batch.size),
      );
      const out: FlatGradients = { terms, values: average, ...(state ? { state } : {}) };
      if (first.hasAfterStep) out.embeddings = concat(results.map((r) => r.embeddings!));
      return out;
    };

    const inBatchGradients = async (batch: EngineBatch): Promise<FlatGradients> => {
      const labels = batch.labels.slice();
      const shards = shardBatch(batch, workers);
      const parts = await Promise.all(
        shards.map((shard, i) =>
          replicas[i]!.request({ type: 'embeddings', batch: shard }, 'embeddings', transfer(shard)),
        ),
      );
      const embeddings = concat(parts.map((p) => p.values));
      const loss = await replicas[0]!.request(
        { type: 'loss-gradients', embeddings: embeddings.slice(), labels },
        'loss-gradients',
        [labels.buffer as ArrayBuffer],
      );
      if (
        loss.embeddings === undefined ||
        loss.variables === undefined ||
        !Number.isFinite(loss.terms.loss)
      ) {
        return { terms: loss.terms, values: undefined };
      }
      let offset = 0;
      const slices = shards.map((shard) => {
        const slice = loss.embeddings!.slice(offset * dim, (offset + shard.size) * dim);
        offset += shard.size;
        return slice;
      });
      const backward = await Promise.all(
        slices.map((slice, i) =>
          replicas[i]!.request({ type: 'backpropagate', embeddingGradient: slice }, 'backpropagated', [
            slice.buffer as ArrayBuffer,
          ]),
        ),
      );
      // The loss's gradient already is that of the whole batch: the shards' model gradients add up.
      const values = new Float32Array(length);
      for (const b of backward) for (let k = 0; k < b.values.length; k++) values[k]! += b.values[k]!;
      values.set(loss.variables, first.modelGradientLength);
      const state = weightedMean(
        backward.map((b) => b.state),
        shards.map((s) => s.size / batch.size),
      );
      const out: FlatGradients = { terms: loss.terms, values, ...(state ? { state } : {}) };
      if (first.hasAfterStep) out.embeddings = embeddings;
      return out;
    };

    const gradients = first.meanOverBatch ? meanGradients : inBatchGradients;

    return {
      backend: `${first.backend} × ${workers} workers`,
      embedding: first.embedding,
      classAnchors: first.classAnchors,
      workers,
      gradients(batch: EngineBatch): Promise<FlatGradients> {
        return gradients({ images: batch.images.slice(), labels: batch.labels.slice(), size: batch.size });
      },
      async step(batch: EngineBatch): Promise<StepOutcome> {
        const labels = batch.labels.slice();
        const { terms, values, embeddings, state } = await gradients(batch);
        if (values === undefined) return { terms, applied: false };
        await applyEverywhere(values, state, embeddings, labels);
        return { terms, applied: true };
      },
      async beginEpoch(epoch: number): Promise<void> {
        await Promise.all(replicas.map((r) => r.request({ type: 'epoch', epoch }, 'epoch-started')));
      },
      async embed(batch: EngineBatch): Promise<Float32Array> {
        const shards = shardBatch(batch, workers);
        const parts = await Promise.all(
          shards.map((shard, i) =>
            replicas[i]!.request({ type: 'embed', batch: shard }, 'embedded', transfer(shard)),
          ),
        );
        return concat(parts.map((p) => p.values));
      },
      async snapshot(): Promise<TrainingSnapshot> {
        return (await replicas[0]!.request({ type: 'snapshot' }, 'snapshot')).snapshot;
      },
      async weights(): Promise<Float32Array[]> {
        const answers = await Promise.all(replicas.map((r) => r.request({ type: 'weights' }, 'weights')));
        return answers.map((a) => a.values);
      },
      async dispose(): Promise<void> {
        await Promise.all(replicas.map((r) => r.terminate()));
      },
    };
  } catch (error) {
    await Promise.all(replicas.map((r) => r.terminate()));
    throw error;
  }
}
