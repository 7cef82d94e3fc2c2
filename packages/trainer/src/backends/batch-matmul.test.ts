import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { maxAbsDiff, randomValues, runOn } from './test-support';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
});

const tensor = (shape: number[], seed: number) =>
  tf.tensor(randomValues(tf.util.sizeFromShape(shape), seed), shape);

// [a's shape, b's shape, transposeA, transposeB]: the trainer's GEMM takes the first rows
// (output columns a multiple of 8), the stock kernel the others.
const cases: [number[], number[], boolean, boolean][] = [
  [[5, 7], [7, 16], false, false],
  [[7, 5], [7, 16], true, false],
  [[5, 7], [16, 7], false, true],
  [[7, 5], [16, 7], true, true],
  [[2, 3, 9, 4], [2, 3, 4, 8], false, false], // attention's weights · V, per head
  [[2, 3, 9, 4], [2, 3, 24, 4], false, true], // Q · Kᵀ
  [[2, 3, 4, 9], [2, 3, 4, 8], true, false], // dK = dSᵀ · Q
  [[3, 6, 5], [5, 8], false, false], // one B for every product
  [[5, 6], [3, 6, 8], false, false], // one A for every product
  [[5, 7], [7, 10], false, false], // 10 columns: stock kernel
];

describe('BatchMatMul on wasm', () => {
  it.each(cases)('%j × %j (transposeA %s, transposeB %s) equals the cpu backend', async (sa, sb, ta, tb) => {
    const f = () => tf.matMul(tensor(sa, 1), tensor(sb, 2), ta, tb);
    const [cpu] = await runOn('cpu', f);
    const [wasm] = await runOn('wasm', f);
    expect(maxAbsDiff(wasm!, cpu!)).toBeLessThan(1e-5);
  });

  it('gradients of a batched attention product equal the cpu backend, and nothing leaks', async () => {
    const f = () => {
      const q = tensor([2, 3, 9, 8], 3);
      const k = tensor([2, 3, 9, 8], 4);
      const w = tensor([2, 3, 9, 9], 5);
      return tf.grads((a: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(tf.matMul(a, b, false, true), w)))([
        q,
        k,
      ]);
    };
    const cpu = await runOn('cpu', f);
    await tf.setBackend('wasm');
    const before = tf.memory().numTensors;
    const wasm = await runOn('wasm', f);
    expect(tf.memory().numTensors).toBe(before);
    for (const [i, g] of wasm.entries()) expect(maxAbsDiff(g, cpu[i]!)).toBeLessThan(1e-5);
  });
});
