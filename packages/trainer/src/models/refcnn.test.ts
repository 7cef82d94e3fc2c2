import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { createBackbone, listBackbones } from './registry';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

function weightsOf(model: tf.LayersModel): Float32Array[] {
  return model.getWeights().map((w) => w.dataSync() as Float32Array);
}

describe('refcnn', () => {
  it('maps N×28×28×1 to N×dim through the named layers of the issue', () => {
    const model = createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 64, seed: 1 });
    expect(model.layers.map((l) => l.name)).toEqual([
      'conv1',
      'pool1',
      'conv2',
      'pool2',
      'conv3',
      'gap',
      'embedding',
    ]);
    expect(model.layers.map((l) => JSON.stringify(l.outputShape))).toEqual([
      '[null,28,28,32]',
      '[null,14,14,32]',
      '[null,14,14,64]',
      '[null,7,7,64]',
      '[null,7,7,128]',
      '[null,128]',
      '[null,64]',
    ]);
    const out = tf.tidy(() => (model.predict(tf.zeros([3, 28, 28, 1])) as tf.Tensor).shape);
    expect(out).toEqual([3, 64]);
    model.dispose();
  });

  it('has the hand-counted number of parameters', () => {
    for (const [channels, dim] of [
      [1, 64],
      [3, 128],
    ] as const) {
      const model = createBackbone('refcnn', { inputShape: [32, 32, channels], dim, seed: 1 });
      const conv1 = 3 * 3 * channels * 32 + 32;
      const conv2 = 3 * 3 * 32 * 64 + 64;
      const conv3 = 3 * 3 * 64 * 128 + 128;
      const dense = 128 * dim + dim;
      expect(model.countParams()).toBe(conv1 + conv2 + conv3 + dense);
      model.dispose();
    }
  });

  it('initialises identically for the same seed and differently for another', () => {
    const options = { inputShape: [28, 28, 1] as const, dim: 16 };
    const a = createBackbone('refcnn', { ...options, seed: 5 });
    const b = createBackbone('refcnn', { ...options, seed: 5 });
    const c = createBackbone('refcnn', { ...options, seed: 6 });
    const [wa, wb, wc] = [weightsOf(a), weightsOf(b), weightsOf(c)];
    expect(wa.map((w) => Array.from(w))).toEqual(wb.map((w) => Array.from(w)));
    expect(Array.from(wa[0]!)).not.toEqual(Array.from(wc[0]!));
    // the kernels are not all zero and differ between layers
    expect(wa[0]!.some((v) => v !== 0)).toBe(true);
    expect(wa[2]!.slice(0, 20)).not.toEqual(wa[4]!.slice(0, 20));
    for (const m of [a, b, c]) m.dispose();
  });

  it('registry lists refcnn and rejects unknown names and bad options', () => {
    expect(listBackbones()).toContain('refcnn');
    expect(() => createBackbone('resnet1', { inputShape: [28, 28, 1], dim: 8, seed: 1 })).toThrow(
      /unknown backbone "resnet1"; known: refcnn/,
    );
    expect(() => createBackbone('refcnn', { inputShape: [28, 28, 1], dim: 0, seed: 1 })).toThrow(
      AnchorageError,
    );
    expect(() => createBackbone('refcnn', { inputShape: [28, 28] as never, dim: 8, seed: 1 })).toThrow(
      expect.objectContaining({ argument: 'inputShape' }),
    );
  });
});
