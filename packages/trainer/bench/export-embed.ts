/**
 * Embedding benchmark: refcnn (28×28×1, d = 64) images/s through the exported model.onnx on
 * onnxruntime-node (CPU; one intra-op thread and its default) against the same model on tfjs-wasm
 * (one thread in Node), at batch 1 and 64, medians over many runs measured in this run.
 * Usage: pnpm exec tsx bench/export-embed.ts [--runs N] [--seconds S]
 */
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { useWasmBackend } from '../src/backends/wasm';
import { tfjsToOnnx } from '../src/export';
import { createBackbone } from '../src/models';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const minRuns = flag('runs', 30);
const minSeconds = flag('seconds', 3);
const batches = [1, 64];

/** Times `fn` until both `minRuns` runs and `minSeconds` have passed; returns the median ms. */
async function medianMs(fn: () => Promise<void>): Promise<{ median: number; runs: number }> {
  for (let i = 0; i < 3; i++) await fn();
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minSeconds * 1000) {
    const t = performance.now();
    await fn();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)]!, runs: times.length };
}

if (!(await useWasmBackend())) throw new Error('the wasm backend did not initialise');
const model = createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 64, seed: 1 });
const onnxBytes = tfjsToOnnx(model, { inputType: 'float32' });

interface Row {
  engine: string;
  batch: number;
  median: number;
  runs: number;
}
const rows: Row[] = [];
for (const batch of batches) {
  const pixels = new Float32Array(batch * 784).map((_, i) => ((i * 7919) % 256) / 255);
  const input = tf.tensor(pixels, [batch, 28, 28, 1]);
  rows.push({
    engine: 'tfjs-wasm (1 thread)',
    batch,
    ...(await medianMs(async () => {
      const y = model.predict(input) as tf.Tensor;
      await y.data();
      y.dispose();
    })),
  });
  input.dispose();
  for (const threads of [1, 0]) {
    const session = await ort.InferenceSession.create(onnxBytes, {
      executionProviders: ['cpu'],
      graphOptimizationLevel: 'all',
      ...(threads > 0 ? { intraOpNumThreads: threads } : {}),
    });
    const feeds = { [session.inputNames[0]!]: new ort.Tensor('float32', pixels, [batch, 28, 28, 1]) };
    rows.push({
      engine: threads > 0 ? `onnxruntime-node (${threads} thread)` : 'onnxruntime-node (default threads)',
      batch,
      ...(await medianMs(async () => {
        await session.run(feeds);
      })),
    });
    await session.release();
  }
}

console.log(
  `refcnn 28×28×1 → 64, forward only; tfjs ${tf.version.tfjs} wasm, onnxruntime-node ${ort.env.versions.node ?? ''}`,
);
console.log('| engine | batch | median ms / batch | images/s | vs tfjs-wasm | runs |');
console.log('|---|---:|---:|---:|---:|---:|');
for (const row of rows) {
  const base = rows.find((r) => r.batch === row.batch && r.engine.startsWith('tfjs'))!;
  const imagesPerSecond = (row.batch * 1000) / row.median;
  console.log(
    `| ${row.engine} | ${row.batch} | ${row.median.toFixed(3)} | ${imagesPerSecond.toFixed(0)} | ${(base.median / row.median).toFixed(2)}× | ${row.runs} |`,
  );
}
