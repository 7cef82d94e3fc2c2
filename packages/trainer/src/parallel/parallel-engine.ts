import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { AnchorageError } from '@anchorage/loss-core';
import type { CamTerms } from '../cam';
import type { TrainingSnapshot } from '../train/checkpoint';
import type { TrainConfig } from '../train/config';
import type { EngineBatch, StepOutcome, TrainingEngine } from '../train/engine';
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
  /** Each replica's trainable weights then anchors, flattened. */
  weights(): Promise<Float32Array[]>;
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

/**
 * Data-parallel training over worker threads, each with its own tfjs backend (wasm, one thread
 * each in Node) and a full replica of the model, anchors and optimisers. Every step, each replica
 * computes the gradients of its shard of the batch; the main thread averages them weighted by
 * shard size (exact for the CAM loss: the attractor is a batch mean, the anchor terms do not
 * depend on the batch) and sends the average to every replica, which applies it with its own
 * optimisers. Replicas start from one snapshot, so their weights stay identical.
 */
export async function createParallelEngine(options: ParallelEngineOptions): Promise<ParallelEngine> {
  const { config, inputShape, classes, workers } = options;
  if (!Number.isInteger(workers) || workers < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `workers must be a positive integer, got ${workers}`, {
      argument: 'workers',
      value: workers,
    });
  }
  const replicas = Array.from({ length: workers }, () => new Replica());
  try {
    const init = (snapshot: TrainingSnapshot | undefined): WorkerRequest => ({
      type: 'init',
      config,
      inputShape,
      classes,
      snapshot,
    });
    // The first replica initialises (seeded) and the others start from its snapshot, so they are
    // identical whatever the backend's initialisers do.
    const first = await replicas[0]!.request(init(options.snapshot), 'ready');
    const snapshot =
      options.snapshot ?? (await replicas[0]!.request({ type: 'snapshot' }, 'snapshot')).snapshot;
    await Promise.all(replicas.slice(1).map((r) => r.request(init(snapshot), 'ready')));
    const length = first.gradientLength;

    return {
      backend: `${first.backend} × ${workers} workers`,
      workers,
      async step(batch: EngineBatch): Promise<StepOutcome> {
        const shards = shardBatch(batch, workers);
        const results = await Promise.all(
          shards.map((shard, i) =>
            replicas[i]!.request({ type: 'gradients', batch: shard }, 'gradients', [
              shard.images.buffer as ArrayBuffer,
              shard.labels.buffer as ArrayBuffer,
            ]),
          ),
        );
        const terms: CamTerms = { loss: 0, attractor: 0, repeller: 0, minNorm: 0 };
        const average = new Float32Array(length);
        let finite = true;
        results.forEach((result, i) => {
          const weight = shards[i]!.size / batch.size;
          terms.loss += weight * result.terms.loss;
          terms.attractor += weight * result.terms.attractor;
          terms.repeller += weight * result.terms.repeller;
          terms.minNorm += weight * result.terms.minNorm;
          if (result.values === undefined) {
            finite = false;
            return;
          }
          for (let k = 0; k < length; k++) average[k]! += weight * result.values[k]!;
        });
        if (!finite || !Number.isFinite(terms.loss)) return { terms, applied: false };
        await Promise.all(
          replicas.map((r, i) => {
            const copy = i === replicas.length - 1 ? average : average.slice();
            return r.request({ type: 'apply', values: copy }, 'applied', [copy.buffer as ArrayBuffer]);
          }),
        );
        return { terms, applied: true };
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
