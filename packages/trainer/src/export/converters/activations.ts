import type { OnnxLayerConverter, OnnxLayout } from '../converter';
import type { OnnxGraphBuilder } from '../onnx-graph';
import { onnxAttr } from '../onnx-graph';

// tfjs constants (tfjs-layers activations.js and tfjs-core selu_util)
const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** Names of the tfjs activation strings the exporter maps to ONNX. */
export const SUPPORTED_ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'elu',
  'selu',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softplus',
  'softsign',
  'softmax',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
] as const;

function softmaxAxis(layout: OnnxLayout, rank: number): number {
  return layout === 'channelsFirst' && rank === 4 ? 1 : -1;
}

/** Emits the ONNX nodes of a tfjs activation string; `undefined` when the string is not known. */
export function emitActivation(
  g: OnnxGraphBuilder,
  x: string,
  activation: string,
  base: string,
  layout: OnnxLayout,
  rank: number,
): string | undefined {
  const scalar = (name: string, v: number) => g.addFloat(`${base}/${name}`, [v], []);
  switch (activation) {
    case 'linear':
      return x;
    case 'relu':
      return g.node('Relu', [x], {}, `${base}/relu`);
    case 'relu6':
      return g.node('Clip', [x, scalar('zero', 0), scalar('six', 6)], {}, `${base}/relu6`);
    case 'elu':
      return g.node('Elu', [x], { alpha: onnxAttr.float(1) }, `${base}/elu`);
    case 'selu':
      return g.node(
        'Selu',
        [x],
        { alpha: onnxAttr.float(SELU_ALPHA), gamma: onnxAttr.float(SELU_SCALE) },
        `${base}/selu`,
      );
    case 'sigmoid':
      return g.node('Sigmoid', [x], {}, `${base}/sigmoid`);
    case 'hardSigmoid':
      return g.node(
        'HardSigmoid',
        [x],
        { alpha: onnxAttr.float(0.2), beta: onnxAttr.float(0.5) },
        `${base}/hard_sigmoid`,
      );
    case 'tanh':
      return g.node('Tanh', [x], {}, `${base}/tanh`);
    case 'softplus':
      return g.node('Softplus', [x], {}, `${base}/softplus`);
    case 'softsign':
      return g.node('Softsign', [x], {}, `${base}/softsign`);
    case 'softmax':
      return g.node('Softmax', [x], { axis: onnxAttr.int(softmaxAxis(layout, rank)) }, `${base}/softmax`);
    case 'swish':
      return g.node('Mul', [x, g.node('Sigmoid', [x], {}, `${base}/swish_sigmoid`)], {}, `${base}/swish`);
    case 'mish': {
      const sp = g.node('Softplus', [x], {}, `${base}/mish_softplus`);
      return g.node('Mul', [x, g.node('Tanh', [sp], {}, `${base}/mish_tanh`)], {}, `${base}/mish`);
    }
    case 'gelu': {
      // exact GELU as tfjs computes it: x · ½(1 + erf(x/√2))
      const erf = g.node('Erf', [g.node('Div', [x, scalar('sqrt2', Math.SQRT2)])], {}, `${base}/gelu_erf`);
      const cdf = g.node('Mul', [g.node('Add', [erf, scalar('one', 1)]), scalar('half', 0.5)]);
      return g.node('Mul', [x, cdf], {}, `${base}/gelu`);
    }
    case 'gelu_new': {
      // tanh approximation: ½x(1 + tanh(√(2/π)(x + 0.044715x³)))
      const cube = g.node('Mul', [x, g.node('Mul', [x, x])]);
      const inner = g.node('Add', [x, g.node('Mul', [cube, scalar('c', 0.044715)])]);
      const t = g.node('Tanh', [g.node('Mul', [inner, scalar('k', Math.sqrt(2 / Math.PI))])]);
      const half = g.node('Mul', [x, scalar('half', 0.5)]);
      return g.node('Mul', [half, g.node('Add', [t, scalar('one', 1)])], {}, `${base}/gelu_new`);
    }
    default:
      return undefined;
  }
}

/** The `Activation` layer: its `activation` string, applied element-wise. */
export const convertActivation: OnnxLayerConverter = (call, ctx) => {
  const x = call.inputs[0]!;
  return {
    name: ctx.activation(x.name, call.config.activation, call.layer, x.layout, x.shape.length),
    layout: x.layout,
  };
};

/** `ReLU` (with optional `maxValue`). */
export const convertReLU: OnnxLayerConverter = (call, ctx) => {
  const x = call.inputs[0]!;
  const g = ctx.graph;
  const maxValue = call.config.maxValue;
  if (maxValue === null || maxValue === undefined) {
    return { name: g.node('Relu', [x.name], {}, call.layer.name), layout: x.layout };
  }
  const lo = g.addFloat(`${call.layer.name}/min`, [0], []);
  const hi = g.addFloat(`${call.layer.name}/max`, [Number(maxValue)], []);
  return { name: g.node('Clip', [x.name, lo, hi], {}, call.layer.name), layout: x.layout };
};

/** `LeakyReLU` (tfjs default alpha 0.3). */
export const convertLeakyReLU: OnnxLayerConverter = (call, ctx) => {
  const x = call.inputs[0]!;
  const alpha = Number(call.config.alpha ?? 0.3);
  return {
    name: ctx.graph.node('LeakyRelu', [x.name], { alpha: onnxAttr.float(alpha) }, call.layer.name),
    layout: x.layout,
  };
};

/** `ELU` layer (alpha from its config). */
export const convertELU: OnnxLayerConverter = (call, ctx) => {
  const x = call.inputs[0]!;
  const alpha = Number(call.config.alpha ?? 1);
  return {
    name: ctx.graph.node('Elu', [x.name], { alpha: onnxAttr.float(alpha) }, call.layer.name),
    layout: x.layout,
  };
};

/** `Softmax` layer over its configured axis (tfjs axis, mapped to the stored layout). */
export const convertSoftmax: OnnxLayerConverter = (call, ctx) => {
  const x = call.inputs[0]!;
  const rank = x.shape.length;
  const rawAxis = call.config.axis ?? -1;
  const axis = Array.isArray(rawAxis) ? rawAxis : [rawAxis];
  if (axis.length !== 1)
    throw ctx.unsupported(call.layer, `softmax over several axes ${JSON.stringify(rawAxis)}`);
  const a = ((Number(axis[0]) % rank) + rank) % rank;
  return {
    name: ctx.graph.node('Softmax', [ctx.channelsLast(x)], { axis: onnxAttr.int(a) }, call.layer.name),
    layout: 'channelsLast',
  };
};
