import * as tf from '@tensorflow/tfjs';
import type { OnnxLayerConverter } from '../export/converter';
import { convertLayerNormalization } from '../export/converters/normalization';
import { onnxAttr } from '../export/onnx-graph';
import { registerOnnxConverter } from '../export/registry';

// The vision transformer's layers that tfjs-layers lacks. Each class sits next to its ONNX
// converter and both are registered by registerVitLayers(): tfjs's serialisation registry (so a
// checkpoint reloads through tf.loadLayersModel) and the exporter's converter registry.

type LayerArgs = ConstructorParameters<typeof tf.layers.Layer>[0];

interface SeededArgs extends NonNullable<LayerArgs> {
  /** Seeds the initialiser of the layer's weight. */
  seed?: number;
}

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0]! : inputs;
}

function tokensShape(inputShape: tf.Shape | tf.Shape[]): [number | null, number, number] {
  const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
  return [s[0] ?? null, s[1] as number, s[2] as number];
}

/** A learned class token prepended to the tokens: [N, T, D] → [N, T + 1, D]. Starts at zero. */
export class ClassToken extends tf.layers.Layer {
  static className = 'AnchorageClassToken';
  private token: tf.LayerVariable | undefined;

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, , dim] = tokensShape(inputShape);
    this.token = this.addWeight('token', [1, 1, dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, t, d] = tokensShape(inputShape);
    return [n, t + 1, d];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const token = tf.tile(this.token!.read(), [x.shape[0]!, 1, 1]);
      return tf.concat([token, x], 1);
    });
  }

  override getClassName(): string {
    return ClassToken.className;
  }
}

/** `[tok; x]`: the token broadcast to the batch (Shape → Concat → Expand), then Concat on axis 1. */
const convertClassToken: OnnxLayerConverter = (call, ctx) => {
  const { layer } = call;
  const x = ctx.channelsLast(call.inputs[0]!);
  const token = ctx.weight(layer, 'token');
  const dim = token.shape[2]!;
  const g = ctx.graph;
  const batch = g.node('Shape', [x], { start: onnxAttr.int(0), end: onnxAttr.int(1) }, `${layer.name}/batch`);
  const target = g.node(
    'Concat',
    [batch, g.addInt64(`${layer.name}/rest`, [1, dim])],
    { axis: onnxAttr.int(0) },
    `${layer.name}/shape`,
  );
  const tokens = g.node(
    'Expand',
    [g.addFloat(`${layer.name}/token`, token.data, [1, 1, dim]), target],
    {},
    `${layer.name}/expand`,
  );
  return { name: g.node('Concat', [tokens, x], { axis: onnxAttr.int(1) }, layer.name) };
};

/** A learned position embedding added to the tokens: [N, T, D] → [N, T, D]; N(0, 0.02²) at start. */
export class PositionEmbedding extends tf.layers.Layer {
  static className = 'AnchoragePositionEmbedding';
  private readonly seed: number | undefined;
  private embedding: tf.LayerVariable | undefined;

  constructor(args: SeededArgs = {}) {
    super(args);
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, tokens, dim] = tokensShape(inputShape);
    this.embedding = this.addWeight(
      'embedding',
      [tokens, dim],
      'float32',
      tf.initializers.truncatedNormal({
        stddev: 0.02,
        ...(this.seed === undefined ? {} : { seed: this.seed }),
      }),
    );
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => tf.add(single(inputs), this.embedding!.read()));
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), ...(this.seed === undefined ? {} : { seed: this.seed }) };
  }

  override getClassName(): string {
    return PositionEmbedding.className;
  }
}

const convertPositionEmbedding: OnnxLayerConverter = (call, ctx) => {
  const { layer } = call;
  const e = ctx.weight(layer, 'embedding');
  const g = ctx.graph;
  const x = ctx.channelsLast(call.inputs[0]!);
  return { name: g.node('Add', [x, g.addFloat(`${layer.name}/embedding`, e.data, e.shape)], {}, layer.name) };
};

interface AttentionArgs extends SeededArgs {
  /** Number of heads; must divide the token width. */
  heads: number;
}

/**
 * Multi-head self-attention over [N, T, D] tokens: per head h, softmax(Q_h K_hᵀ / √(D/H)) V_h with
 * Q = xW_q + b_q (likewise K, V), heads concatenated and projected by W_o + b_o. Weights
 * `query_kernel` … `output_bias`, kernels Glorot-uniform (seeded), biases zero.
 */
export class MultiHeadSelfAttention extends tf.layers.Layer {
  static className = 'AnchorageMultiHeadSelfAttention';
  readonly heads: number;
  private readonly seed: number | undefined;
  private kernels:
    | Record<'query' | 'key' | 'value' | 'output', [tf.LayerVariable, tf.LayerVariable]>
    | undefined;

  constructor(args: AttentionArgs) {
    super(args);
    this.heads = args.heads;
    this.seed = args.seed;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const [, , dim] = tokensShape(inputShape);
    if (dim % this.heads !== 0) {
      throw new Error(`attention "${this.name}": ${this.heads} heads do not divide the token width ${dim}`);
    }
    const pair = (name: string, i: number): [tf.LayerVariable, tf.LayerVariable] => [
      this.addWeight(
        `${name}_kernel`,
        [dim, dim],
        'float32',
        tf.initializers.glorotUniform(this.seed === undefined ? {} : { seed: this.seed + i }),
      ),
      this.addWeight(`${name}_bias`, [dim], 'float32', tf.initializers.zeros()),
    ];
    this.kernels = {
      query: pair('query', 0),
      key: pair('key', 1),
      value: pair('value', 2),
      output: pair('output', 3),
    };
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, t, d] = x.shape as [number, number, number];
      const h = this.heads;
      const dh = d / h;
      const rows = tf.reshape(x, [n * t, d]);
      const w = this.kernels!;
      const project = (which: 'query' | 'key' | 'value' | 'output', input: tf.Tensor) =>
        tf.add(tf.matMul(input as tf.Tensor2D, w[which][0].read() as tf.Tensor2D), w[which][1].read());
      const split = (v: tf.Tensor) => tf.transpose(tf.reshape(v, [n, t, h, dh]), [0, 2, 1, 3]);
      // scaling q (T·D/H values per head) is cheaper than scaling the T×T scores
      const q = split(tf.mul(project('query', rows), 1 / Math.sqrt(dh)));
      const k = split(project('key', rows));
      const v = split(project('value', rows));
      const weights = tf.softmax(tf.matMul(q as tf.Tensor4D, k as tf.Tensor4D, false, true));
      const attended = tf.matMul(weights as tf.Tensor4D, v as tf.Tensor4D);
      const merged = tf.reshape(tf.transpose(attended, [0, 2, 1, 3]), [n * t, d]);
      return tf.reshape(project('output', merged), [n, t, d]);
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      heads: this.heads,
      ...(this.seed === undefined ? {} : { seed: this.seed }),
    };
  }

  override getClassName(): string {
    return MultiHeadSelfAttention.className;
  }
}

const convertMultiHeadSelfAttention: OnnxLayerConverter = (call, ctx) => {
  const { layer } = call;
  const heads = Number(call.config.heads);
  const x = ctx.channelsLast(call.inputs[0]!);
  const dim = Number(call.inputs[0]!.shape[2]);
  const dh = dim / heads;
  const g = ctx.graph;
  const name = layer.name;
  const project = (which: string, input: string, scale = 1) => {
    const kernel = ctx.weight(layer, `${which}_kernel`);
    const bias = ctx.weight(layer, `${which}_bias`);
    if (scale !== 1) {
      // fold 1/√dh into W_q and b_q, as tfjs scales q after adding the bias
      for (let i = 0; i < kernel.data.length; i++) kernel.data[i]! *= scale;
      for (let i = 0; i < bias.data.length; i++) bias.data[i]! *= scale;
    }
    const y = g.node('MatMul', [input, g.addFloat(`${name}/${which}_kernel`, kernel.data, [dim, dim])]);
    return g.node('Add', [y, g.addFloat(`${name}/${which}_bias`, bias.data, [dim])], {}, `${name}/${which}`);
  };
  const headsShape = g.addInt64(`${name}/heads_shape`, [0, 0, heads, dh]);
  const split = (v: string, perm: number[]) =>
    g.node('Transpose', [g.node('Reshape', [v, headsShape])], { perm: onnxAttr.ints(perm) });
  const q = split(project('query', x, 1 / Math.sqrt(dh)), [0, 2, 1, 3]);
  const kT = split(project('key', x), [0, 2, 3, 1]);
  const v = split(project('value', x), [0, 2, 1, 3]);
  const weights = g.node(
    'Softmax',
    [g.node('MatMul', [q, kT])],
    { axis: onnxAttr.int(-1) },
    `${name}/softmax`,
  );
  const attended = g.node('MatMul', [weights, v]);
  const merged = g.node('Reshape', [
    g.node('Transpose', [attended], { perm: onnxAttr.ints([0, 2, 1, 3]) }),
    g.addInt64(`${name}/merge_shape`, [0, 0, dim]),
  ]);
  return { name: project('output', merged) };
};

interface LayerNormArgs extends NonNullable<LayerArgs> {
  /** Added to the variance; default 1e-6. */
  epsilon?: number;
}

/**
 * Layer normalisation over the last axis, y = (x − mean) / √(var + ε) · γ + β, written with ops
 * whose gradients are cheap. tfjs-layers' LayerNormalization tiles γ and β to the input's full shape
 * before a batch norm, and the gradient of that tile runs one Slice and one Add per tiled row
 * (N·T of them): on wasm it took seconds of a ViT step. Weights `gamma` (ones) and `beta` (zeros);
 * exported as ONNX LayerNormalization like tfjs's own.
 */
export class LayerNorm extends tf.layers.Layer {
  static className = 'AnchorageLayerNorm';
  readonly epsilon: number;
  private gamma: tf.LayerVariable | undefined;
  private beta: tf.LayerVariable | undefined;

  constructor(args: LayerNormArgs = {}) {
    super(args);
    this.epsilon = args.epsilon ?? 1e-6;
  }

  override build(inputShape: tf.Shape | tf.Shape[]): void {
    const s = (Array.isArray(inputShape[0]) ? inputShape[0] : inputShape) as tf.Shape;
    const dim = s[s.length - 1] as number;
    this.gamma = this.addWeight('gamma', [dim], 'float32', tf.initializers.ones());
    this.beta = this.addWeight('beta', [dim], 'float32', tf.initializers.zeros());
    this.built = true;
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const centred = tf.sub(x, tf.mean(x, -1, true));
      const variance = tf.mean(tf.square(centred), -1, true);
      const normed = tf.mul(centred, tf.rsqrt(tf.add(variance, this.epsilon)));
      return tf.add(tf.mul(normed, this.gamma!.read()), this.beta!.read());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), axis: -1, epsilon: this.epsilon };
  }

  override getClassName(): string {
    return LayerNorm.className;
  }
}

/** The class token's output: [N, T, D] → [N, D] (token 0). */
export class ClassTokenPooling extends tf.layers.Layer {
  static className = 'AnchorageClassTokenPooling';

  override computeOutputShape(inputShape: tf.Shape | tf.Shape[]): tf.Shape {
    const [n, , d] = tokensShape(inputShape);
    return [n, d];
  }

  override call(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      const [n, , d] = x.shape as [number, number, number];
      return tf.reshape(tf.slice(x, [0, 0, 0], [n, 1, d]), [n, d]);
    });
  }

  override getClassName(): string {
    return ClassTokenPooling.className;
  }
}

const convertClassTokenPooling: OnnxLayerConverter = (call, ctx) => {
  const g = ctx.graph;
  const x = ctx.channelsLast(call.inputs[0]!);
  const index = g.addInt64(`${call.layer.name}/index`, [0], []);
  return { name: g.node('Gather', [x, index], { axis: onnxAttr.int(1) }, call.layer.name) };
};

let registered = false;

/**
 * Registers the ViT's layer classes with tfjs serialisation and their ONNX converters, once. Runs
 * when the model registry loads, so checkpoints and exports find them.
 */
export function registerVitLayers(): void {
  if (registered) return;
  registered = true;
  const layers: [typeof tf.layers.Layer & { className: string }, OnnxLayerConverter][] = [
    [ClassToken, convertClassToken],
    [PositionEmbedding, convertPositionEmbedding],
    [MultiHeadSelfAttention, convertMultiHeadSelfAttention],
    [ClassTokenPooling, convertClassTokenPooling],
    [LayerNorm, convertLayerNormalization],
  ];
  for (const [cls, converter] of layers) {
    tf.serialization.registerClass(
      cls as unknown as tf.serialization.SerializableConstructor<tf.layers.Layer>,
    );
    registerOnnxConverter(cls.className, converter);
  }
}
