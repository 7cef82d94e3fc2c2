import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { randomValues, runOn } from './test-support';
import { wholeRepeats } from './tile';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';

beforeAll(async () => {
  await prepareWasmBackend();
  registerTrainingKernels();
});

describe('Tile on wasm', () => {
  it('recognises tilings that repeat the whole input', () => {
    expect(wholeRepeats([1, 1, 1, 16], [64, 32, 32, 1])).toBe(65536);
    expect(wholeRepeats([1, 3, 4], [5, 1, 1])).toBe(5);
    expect(wholeRepeats([2, 3], [1, 1])).toBe(1);
    expect(wholeRepeats([2, 3], [1, 2])).toBeNull();
    expect(wholeRepeats([1, 3], [2, 2])).toBeNull();
  });

  it.each([
    [
      [1, 1, 1, 16],
      [6, 5, 7, 1],
    ],
    [
      [1, 1, 5],
      [3, 7, 1],
    ],
    [
      [1, 3, 4],
      [5, 1, 1],
    ],
    [
      [2, 3],
      [2, 3],
    ],
    [
      [1, 1, 1, 4],
      [1, 1, 1, 1],
    ],
  ])('%j tiled by %j equals the cpu backend exactly', async (shape, reps) => {
    const f = () => tf.tile(tf.tensor(randomValues(tf.util.sizeFromShape(shape), 1), shape), reps);
    const [cpu] = await runOn('cpu', f);
    const [wasm] = await runOn('wasm', f);
    expect(Array.from(wasm!)).toEqual(Array.from(cpu!));
  });
});
