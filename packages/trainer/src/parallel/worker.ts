import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type BackendRequest, selectBackend } from '../backends';
import type { EngineBatch } from '../train/engine';
import { createLocalEngine, type LocalEngine } from '../train/local-engine';
import type { WorkerRequest, WorkerResponse } from './protocol';

// One replica of the model, the loss's variables and both optimisers on this thread's own tfjs
// backend. The main thread combines the replicas' gradients and sends the result back, so every
// replica applies the same update and the weights stay identical.

const port = parentPort;
if (port === null) throw new Error('this module runs inside a worker thread');

let engine: LocalEngine | undefined;
/** The shard of the last `embeddings` request, which `backpropagate` differentiates. */
let shard: EngineBatch | undefined;

function post(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

function buffers(...arrays: (Float32Array | undefined)[]): ArrayBuffer[] {
  return arrays.filter((a) => a !== undefined).map((a) => a.buffer as ArrayBuffer);
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'init': {
      // wasm is the point of the workers (one thread each); other backends are already parallel.
      const backend = request.config.backend === 'cpu' ? 'cpu' : 'wasm';
      await selectBackend(backend as BackendRequest, { log: () => {} });
      engine = await createLocalEngine({
        config: request.config,
        inputShape: request.inputShape,
        classes: request.classes,
        snapshot: request.snapshot,
        model: request.model,
      });
      post({
        type: 'ready',
        backend: tf.getBackend(),
        gradientLength: engine.gradientLength,
        modelGradientLength: engine.modelGradientLength,
        meanOverBatch: engine.loss.meanOverBatch,
        hasAfterStep: engine.loss.afterStep !== undefined,
        embedding: engine.embedding,
        classAnchors: engine.classAnchors,
      });
      return;
    }
    case 'gradients': {
      const { terms, values, embeddings, state } = await engine!.gradients(request.batch);
      post(
        {
          type: 'gradients',
          terms,
          values,
          ...(embeddings ? { embeddings } : {}),
          ...(state ? { state } : {}),
        },
        buffers(values, embeddings, state),
      );
      return;
    }
    case 'embeddings': {
      shard = request.batch;
      const values = await engine!.trainingEmbeddings(shard);
      post({ type: 'embeddings', values }, buffers(values));
      return;
    }
    case 'loss-gradients': {
      const r = await engine!.lossGradients(request.embeddings, request.labels);
      post({ type: 'loss-gradients', ...r }, buffers(r.embeddings, r.variables));
      return;
    }
    case 'backpropagate': {
      const values = await engine!.backpropagate(shard!, request.embeddingGradient);
      shard = undefined;
      const state = await engine!.modelState();
      post({ type: 'backpropagated', values, ...(state ? { state } : {}) }, buffers(values, state));
      return;
    }
    case 'apply':
      engine!.applyGradients(request.values, request.state);
      if (request.afterStep) engine!.afterStep(request.afterStep.embeddings, request.afterStep.labels);
      post({ type: 'applied' });
      return;
    case 'epoch':
      await engine!.beginEpoch(request.epoch);
      post({ type: 'epoch-started' });
      return;
    case 'embed': {
      const values = await engine!.embed(request.batch);
      post({ type: 'embedded', values }, buffers(values));
      return;
    }
    case 'snapshot': {
      const snapshot = await engine!.snapshot();
      post({ type: 'snapshot', snapshot });
      return;
    }
    case 'weights': {
      const values = await engine!.weights();
      post({ type: 'weights', values }, buffers(values));
      return;
    }
  }
}

// Requests are handled strictly one at a time, in order.
let queue = Promise.resolve();
port.on('message', (request: WorkerRequest) => {
  queue = queue.then(() =>
    handle(request).catch((error: unknown) => {
      const e = error as { message?: string; code?: string; stack?: string };
      post({ type: 'error', message: e.message ?? String(error), code: e.code, stack: e.stack });
    }),
  );
});
