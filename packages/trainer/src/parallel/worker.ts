import { parentPort } from 'node:worker_threads';
import * as tf from '@tensorflow/tfjs';
import { type BackendRequest, selectBackend } from '../backends';
import { createLocalEngine, type LocalEngine } from '../train/local-engine';
import type { WorkerRequest, WorkerResponse } from './protocol';

// One replica of the model, anchors and optimisers on this thread's own tfjs backend. The main
// thread averages the replicas' gradients and sends the average back, so every replica applies
// the same update and the weights stay identical.

const port = parentPort;
if (port === null) throw new Error('this module runs inside a worker thread');

let engine: LocalEngine | undefined;

function post(message: WorkerResponse, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
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
      });
      post({ type: 'ready', backend: tf.getBackend(), gradientLength: engine.gradientLength });
      return;
    }
    case 'gradients': {
      const { terms, values } = engine!.gradients(request.batch);
      post({ type: 'gradients', terms, values }, values ? [values.buffer as ArrayBuffer] : []);
      return;
    }
    case 'apply':
      engine!.applyGradients(request.values);
      post({ type: 'applied' });
      return;
    case 'snapshot': {
      const snapshot = await engine!.snapshot();
      post({ type: 'snapshot', snapshot });
      return;
    }
    case 'weights': {
      const parts = [...engine!.model.trainableWeights.map((w) => w.read()), engine!.cam.anchors];
      const values = new Float32Array(parts.reduce((n, t) => n + t.size, 0));
      let offset = 0;
      for (const t of parts) {
        values.set(t.dataSync() as Float32Array, offset);
        offset += t.size;
      }
      post({ type: 'weights', values }, [values.buffer]);
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
