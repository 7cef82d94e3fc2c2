import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useWasmBackend } from '../backends/wasm';
import { createBackbone } from '../models';
import { OnnxGraphBuilder } from './onnx-graph';
import {
  exportChecker,
  maxAbsDiff,
  onnxRuntimeWarnings,
  randomFloats,
  randomizeWeights,
  runOnnx,
} from './onnx-test-support';
import { registerOnnxConverter } from './registry';
import { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, tfjsToOnnx } from './tfjs-to-onnx';

const check = exportChecker();
beforeAll(() => tf.setBackend('cpu'));
afterAll(() => check.expectNoWarnings());

/** A layer tfjs does not know how to export: y = x · scale + 1, with a learned per-channel scale. */
class ScaleShift extends tf.layers.Layer {
  static className = 'ScaleShift';
  scale: tf.LayerVariable | undefined;
  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const shape = inputShape as tf.Shape;
    this.scale = this.addWeight('scale', [shape[shape.length - 1]!], 'float32', tf.initializers.ones());
    this.built = true;
  }
  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    const x = Array.isArray(inputs) ? inputs[0]! : inputs;
    return tf.tidy(() => tf.add(tf.mul(x, this.scale!.read()), 1));
  }
  override getClassName(): string {
    return 'ScaleShift';
  }
}
tf.serialization.registerClass(ScaleShift);

describe('tfjsToOnnx', () => {
  it('refcnn with random weights (28×28×1 and 32×32×3) equals tfjs, with a dynamic batch', async () => {
    for (const inputShape of [
      [28, 28, 1],
      [32, 32, 3],
    ] as const) {
      const model = randomizeWeights(createBackbone('refcnn', { inputShape, dim: 16, seed: 3 }), 4);
      const { outputDims, bytes } = await check.expectMatch(model, { lo: 0, hi: 1 });
      expect(outputDims).toEqual([
        [1, 16],
        [7, 16],
      ]);
      const graph = onnxProto.onnx.ModelProto.decode(bytes).graph!;
      const dims = (name: string, list: typeof graph.input) =>
        list!
          .find((v) => v.name === name)!
          .type!.tensorType!.shape!.dim!.map((d) => d.dimParam || Number(d.dimValue));
      expect(dims(ONNX_INPUT_NAME, graph.input)).toEqual(['batch', ...inputShape]);
      expect(dims(ONNX_OUTPUT_NAME, graph.output)).toEqual(['batch', 16]);
    }
  });

  it('refcnn after a few training steps (wasm backend) equals tfjs', async () => {
    // cpu's stock convolution gradients take seconds per step; wasm with the trainer's kernels does not
    expect(await useWasmBackend()).toBe(true);
    const model = createBackbone('refcnn', { inputShape: [12, 12, 1], dim: 8, seed: 5 });
    const optimizer = tf.train.adam(0.01);
    const x = tf.tensor(randomFloats(4 * 144, 6, 0, 1), [4, 12, 12, 1]);
    const target = tf.tensor(randomFloats(4 * 8, 7), [4, 8]);
    const before = model.getWeights()[1]!.dataSync().slice();
    for (let step = 0; step < 3; step++) {
      optimizer.minimize(() => tf.losses.meanSquaredError(target, model.apply(x) as tf.Tensor) as tf.Scalar);
    }
    // the biases moved off their zero initialisation, so they are exported as trained
    expect(maxAbsDiff(before, model.getWeights()[1]!.dataSync())).toBeGreaterThan(1e-4);
    tf.dispose([x, target]);
    try {
      await check.expectMatch(model, { lo: 0, hi: 1 });
    } finally {
      await tf.setBackend('cpu');
    }
  });

  it('takes uint8 or float32 pixels and folds (x·pixelScale − mean) / std into the graph', async () => {
    const model = randomizeWeights(createBackbone('refcnn', { inputShape: [8, 8, 3], dim: 4, seed: 1 }), 2);
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const batch = 7;
    const pixels = Uint8Array.from(randomFloats(batch * 8 * 8 * 3, 9, 0, 256), (v) => Math.floor(v));
    const normalised = Float32Array.from(pixels, (p, i) => (p / 255 - mean[i % 3]!) / std[i % 3]!);
    const expected = tf.tidy(() =>
      (model.predict(tf.tensor(normalised, [batch, 8, 8, 3])) as tf.Tensor).dataSync(),
    );
    const options = { pixelScale: 1 / 255, mean, std } as const;
    const asUint8 = tfjsToOnnx(model, { ...options, inputType: 'uint8' });
    const asFloat = tfjsToOnnx(model, options);
    const dims = [batch, 8, 8, 3];
    expect(maxAbsDiff(expected, (await runOnnx(asUint8, pixels, dims)).data)).toBeLessThan(1e-4);
    expect(maxAbsDiff(expected, (await runOnnx(asFloat, Float32Array.from(pixels), dims)).data)).toBeLessThan(
      1e-4,
    );
    expect(await onnxRuntimeWarnings([asUint8, asFloat])).toBe('');
  });

  it('converts a model nested inside another model', async () => {
    const inner = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 2], filters: 3, kernelSize: 3, activation: 'relu' }),
        tf.layers.flatten(),
      ],
    });
    const input = tf.input({ shape: [6, 6, 2] });
    const features = inner.apply(input) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 4 }).apply(features) as tf.SymbolicTensor;
    await check.expectMatch(randomizeWeights(tf.model({ inputs: input, outputs: out }), 3));
  });

  it('converts a shared layer applied twice', async () => {
    const input = tf.input({ shape: [5] });
    const shared = tf.layers.dense({ units: 5, activation: 'tanh' });
    const twice = shared.apply(shared.apply(input)) as tf.SymbolicTensor;
    await check.expectMatch(randomizeWeights(tf.model({ inputs: input, outputs: twice }), 4));
  });

  it('refuses an unsupported layer naming its class and name; a registered converter fixes it', async () => {
    const model = tf.sequential({
      layers: [tf.layers.dense({ inputShape: [3], units: 3 }), new ScaleShift({ name: 'affine' })],
    });
    randomizeWeights(model, 5);
    let error: unknown;
    try {
      tfjsToOnnx(model);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(AnchorageError);
    expect((error as AnchorageError).code).toBe('UNSUPPORTED');
    expect((error as AnchorageError).message).toMatch(
      /layer "affine" \(class ScaleShift\).*registerOnnxConverter/,
    );
    expect((error as AnchorageError).value).toEqual({ layer: 'affine', className: 'ScaleShift' });

    const unregister = registerOnnxConverter('ScaleShift', (call, ctx) => {
      const x = ctx.channelsLast(call.inputs[0]!);
      const scale = ctx.weight(call.layer, 'scale');
      const scaled = ctx.graph.node('Mul', [
        x,
        ctx.graph.addFloat(`${call.layer.name}/scale`, scale.data, scale.shape),
      ]);
      return { name: ctx.graph.node('Add', [scaled, ctx.graph.addFloat(`${call.layer.name}/one`, [1], [])]) };
    });
    try {
      await check.expectMatch(model);
    } finally {
      unregister();
    }
    expect(() => tfjsToOnnx(model)).toThrow(AnchorageError);
  });

  it('refuses bad options without exporting', () => {
    const model = tf.sequential({ layers: [tf.layers.dense({ inputShape: [3], units: 2 })] });
    expect(() => tfjsToOnnx(model, { std: [1, 0, 1] })).toThrow(/std/);
    expect(() => tfjsToOnnx(model, { mean: [1, 2] })).toThrow(/mean/);
    expect(() => tfjsToOnnx(model, { inputType: 'int8' as never })).toThrow(/inputType/);
    expect(() => tfjsToOnnx(model, { pixelScale: 0 })).toThrow(/pixelScale/);
    expect(() => registerOnnxConverter('', () => ({ name: 'x' }))).toThrow(AnchorageError);
  });

  it('the warning check sees what onnxruntime warns about (an unused initialiser)', async () => {
    const g = new OnnxGraphBuilder('unused');
    g.addInput({ name: 'x', type: 'float32', dims: ['batch', 2] });
    g.addFloat('never_read', [1, 2], [2]);
    g.addOutput({ name: g.node('Relu', ['x']), type: 'float32', dims: ['batch', 2] });
    expect(await onnxRuntimeWarnings([g.toBytes()])).toMatch(/never_read/);
  });
});
