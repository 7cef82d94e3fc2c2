import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportChecker, onnxOpTypes, randomizeWeights } from '../onnx-test-support';
import { registerOnnxConverter } from '../registry';

/** A learned position embedding added to every token: the kind of custom layer a ViT brings. */
class PositionEmbedding extends tf.layers.Layer {
  static className = 'TestPositionEmbedding';
  embedding: tf.LayerVariable | undefined;
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, tokens, dim] = inputShape as [null, number, number];
    this.embedding = this.addWeight(
      'embedding',
      [tokens, dim],
      'float32',
      tf.initializers.randomNormal({ seed: 1 }),
    );
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.add(x, this.embedding!.read()));
  }
  override getClassName(): string {
    return PositionEmbedding.className;
  }
}
tf.serialization.registerClass(PositionEmbedding);

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

/** One pre-norm self-attention block of a small ViT, from stock tfjs layers: [N, T, D] → [N, D]. */
function attentionBlock(tokens: number, dim: number): tf.LayersModel {
  const x = tf.input({ shape: [tokens, dim] });
  const h = tf.layers.layerNormalization({ epsilon: 1e-6 }).apply(x) as tf.SymbolicTensor;
  const q = tf.layers.dense({ units: dim, name: 'q' }).apply(h) as tf.SymbolicTensor;
  const k = tf.layers.dense({ units: dim, name: 'k' }).apply(h) as tf.SymbolicTensor;
  const v = tf.layers.dense({ units: dim, name: 'v' }).apply(h) as tf.SymbolicTensor;
  const scores = tf.layers.dot({ axes: [2, 2] }).apply([q, k]) as tf.SymbolicTensor; // [N, T, T]
  const weights = tf.layers.softmax({ axis: -1 }).apply(scores) as tf.SymbolicTensor;
  const attended = tf.layers.dot({ axes: [2, 1] }).apply([weights, v]) as tf.SymbolicTensor; // [N, T, D]
  const residual = tf.layers.add().apply([x, attended]) as tf.SymbolicTensor;
  const mlp = tf.layers.dense({ units: 2 * dim, activation: 'gelu' }).apply(residual) as tf.SymbolicTensor;
  const back = tf.layers.dense({ units: dim }).apply(mlp) as tf.SymbolicTensor;
  const out = tf.layers.add().apply([residual, back]) as tf.SymbolicTensor;
  const pooled = tf.layers
    .globalAveragePooling1d({})
    .apply(tf.layers.layerNormalization().apply(out)) as tf.SymbolicTensor;
  return tf.model({ inputs: x, outputs: pooled });
}

describe('attention pieces', () => {
  it('Dot over every axis pairing of 3-D inputs, and over 2-D inputs (with normalize)', async () => {
    for (const axes of [
      [2, 2],
      [2, 1],
      [1, 1],
      [1, 2],
    ] as const) {
      const a = tf.input({ shape: [4, 4] });
      const b = tf.layers.dense({ units: 4 }).apply(a) as tf.SymbolicTensor;
      const out = tf.layers.dot({ axes: [axes[0], axes[1]] }).apply([a, b]) as tf.SymbolicTensor;
      await check.expectMatch(randomizeWeights(tf.model({ inputs: a, outputs: out }), axes[0] * 3 + axes[1]));
    }
    const a = tf.input({ shape: [5] });
    const b = tf.layers.dense({ units: 5 }).apply(a) as tf.SymbolicTensor;
    for (const normalize of [false, true]) {
      const out = tf.layers.dot({ axes: -1, normalize }).apply([a, b]) as tf.SymbolicTensor;
      await check.expectMatch(randomizeWeights(tf.model({ inputs: a, outputs: out }), 9));
    }
  });

  it('a self-attention block (LayerNorm, Dense q/k/v, MatMul, Softmax, residual Add, GELU MLP)', async () => {
    const { bytes, outputDims } = await check.expectMatch(randomizeWeights(attentionBlock(5, 8), 10));
    const ops = onnxOpTypes(bytes);
    for (const op of ['MatMul', 'Softmax', 'Transpose', 'LayerNormalization', 'Erf'])
      expect(ops).toContain(op);
    expect(outputDims[1]).toEqual([7, 8]);
  });

  it('a ViT-shaped model: patchify Conv2D, Reshape to tokens, custom position embedding, attention', async () => {
    const unregister = registerOnnxConverter(PositionEmbedding.className, (call, ctx) => {
      const e = ctx.weight(call.layer, 'embedding');
      const x = ctx.channelsLast(call.inputs[0]!);
      return {
        name: ctx.graph.node('Add', [x, ctx.graph.addFloat(`${call.layer.name}/embedding`, e.data, e.shape)]),
      };
    });
    try {
      const image = tf.input({ shape: [8, 8, 1] });
      const patches = tf.layers
        .conv2d({ filters: 8, kernelSize: 4, strides: 4 })
        .apply(image) as tf.SymbolicTensor;
      const tokens = tf.layers.reshape({ targetShape: [4, 8] }).apply(patches) as tf.SymbolicTensor;
      const placed = new PositionEmbedding({}).apply(tokens) as tf.SymbolicTensor;
      const encoded = attentionBlock(4, 8).apply(placed) as tf.SymbolicTensor;
      const head = tf.layers.dense({ units: 6 }).apply(encoded) as tf.SymbolicTensor;
      const { outputDims } = await check.expectMatch(
        randomizeWeights(tf.model({ inputs: image, outputs: head }), 11),
      );
      expect(outputDims[1]).toEqual([7, 6]);
    } finally {
      unregister();
    }
  });
});
