import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { expect } from 'vitest';
import { Random } from '../random';
import { type OnnxExportOptions, tfjsToOnnx } from './tfjs-to-onnx';

const { onnx } = onnxProto;
const PACKAGE_ROOT = fileURLToPath(new URL('../..', import.meta.url));

/** Uniform random floats in [lo, hi), seeded. */
export function randomFloats(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Random(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * rng.nextFloat();
  return out;
}

/** Runs an ONNX model's single input → single output on onnxruntime-node (CPU). */
export async function runOnnx(
  bytes: Uint8Array,
  data: Float32Array | Uint8Array,
  dims: readonly number[],
): Promise<{ data: Float32Array; dims: readonly number[] }> {
  const session = await ort.InferenceSession.create(bytes, {
    executionProviders: ['cpu'],
    logSeverityLevel: 3,
  });
  try {
    const input = new ort.Tensor(data instanceof Uint8Array ? 'uint8' : 'float32', data, dims);
    const result = await session.run({ [session.inputNames[0]!]: input });
    const out = result[session.outputNames[0]!]!;
    return { data: out.data as Float32Array, dims: out.dims };
  } finally {
    await session.release();
  }
}

/** Largest |a − b| over two equally long arrays (Infinity when the lengths differ). */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Number.POSITIVE_INFINITY;
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return Number.isNaN(m) ? Number.POSITIVE_INFINITY : m;
}

/**
 * Exports `model`, runs tfjs (current backend) and onnxruntime on the same seeded random batch for
 * each batch size, and returns the largest absolute difference over all of them plus the bytes.
 */
export async function compareWithTfjs(
  model: tf.LayersModel,
  options: {
    batchSizes?: readonly number[];
    seed?: number;
    lo?: number;
    hi?: number;
    export?: OnnxExportOptions;
  } = {},
): Promise<{ maxDiff: number; bytes: Uint8Array; outputDims: readonly number[][] }> {
  const bytes = tfjsToOnnx(model, options.export);
  const featureShape = model.inputs[0]!.shape.slice(1) as number[];
  const perItem = featureShape.reduce((a, b) => a * b, 1);
  let maxDiff = 0;
  const outputDims: number[][] = [];
  for (const batch of options.batchSizes ?? [1, 7]) {
    const x = randomFloats(
      batch * perItem,
      (options.seed ?? 1) * 1000 + batch,
      options.lo ?? -1,
      options.hi ?? 1,
    );
    const expected = tf.tidy(() =>
      (model.predict(tf.tensor(x, [batch, ...featureShape])) as tf.Tensor).dataSync(),
    );
    const got = await runOnnx(bytes, x, [batch, ...featureShape]);
    outputDims.push([...got.dims]);
    maxDiff = Math.max(maxDiff, maxAbsDiff(expected, got.data));
  }
  return { maxDiff, bytes, outputDims };
}

/**
 * Loads every model in a fresh Node process with onnxruntime logging at warning level and returns
 * what it wrote to stderr (empty: no warnings). A child process because onnxruntime logs from
 * native code straight to the process's stderr.
 */
export async function onnxRuntimeWarnings(models: readonly Uint8Array[]): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'anchorage-onnx-'));
  try {
    const files = models.map((bytes, i) => {
      const file = join(dir, `m${i}.onnx`);
      writeFileSync(file, bytes);
      return file;
    });
    const script = [
      "import * as ort from 'onnxruntime-node';",
      "ort.env.logLevel = 'warning';",
      'for (const f of JSON.parse(process.argv[1])) {',
      "  const s = await ort.InferenceSession.create(f, { executionProviders: ['cpu'], logSeverityLevel: 2, logVerbosityLevel: 0 });",
      '  await s.release();',
      '}',
    ].join('\n');
    return await new Promise<string>((resolve, reject) => {
      execFile(
        process.execPath,
        ['--input-type=module', '-e', script, JSON.stringify(files)],
        { cwd: PACKAGE_ROOT },
        (error, _stdout, stderr) =>
          error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stderr),
      );
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The op types of an exported model's nodes, in graph order. */
export function onnxOpTypes(bytes: Uint8Array): string[] {
  return onnx.ModelProto.decode(bytes).graph!.node!.map((n) => n.opType!);
}

/**
 * Per test file: `expectMatch` exports a model and asserts onnxruntime equals tfjs to 1e-4 for
 * batch sizes 1 and 7; `expectNoWarnings` (for afterAll) loads every model exported so far and
 * asserts onnxruntime logged no warning.
 */
export function exportChecker() {
  const exported: Uint8Array[] = [];
  return {
    async expectMatch(model: tf.LayersModel, options: Parameters<typeof compareWithTfjs>[1] = {}) {
      const result = await compareWithTfjs(model, options);
      exported.push(result.bytes);
      expect(result.maxDiff).toBeLessThan(1e-4);
      return result;
    },
    async expectNoWarnings() {
      expect(exported.length).toBeGreaterThan(0);
      expect(await onnxRuntimeWarnings(exported)).toBe('');
    },
  };
}

/**
 * Replaces every weight with seeded uniform noise (variances and γ in [0.5, 1.5), the rest in
 * [−0.5, 0.5)), so that biases and normalisation statistics are all non-trivial. With `only`, just
 * the weights whose name matches it.
 */
export function randomizeWeights<M extends tf.LayersModel>(model: M, seed: number, only?: RegExp): M {
  model.weights.forEach((w, i) => {
    if (only !== undefined && !only.test(w.originalName)) return;
    const positive = /(variance|gamma)$/.test(w.originalName);
    w.write(
      tf.tidy(() =>
        tf.randomUniform(
          w.shape as number[],
          positive ? 0.5 : -0.5,
          positive ? 1.5 : 0.5,
          'float32',
          seed * 100 + i,
        ),
      ),
    );
  });
  return model;
}
