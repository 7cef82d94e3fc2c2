import type { OnnxLayerConverter, OnnxValue } from '../converter';
import { onnxAttr } from '../onnx-graph';

function normalizedAxes(raw: unknown, rank: number): number[] {
  const list = Array.isArray(raw) ? raw : [raw ?? -1];
  return list.map((a) => ((Number(a) % rank) + rank) % rank).sort((a, b) => a - b);
}

/** The physical axis of tfjs axis `axis` for a value stored in `value.layout`. */
function physicalAxis(value: OnnxValue, axis: number): number {
  if (value.layout !== 'channelsFirst' || value.shape.length !== 4) return axis;
  return [0, 2, 3, 1][axis]!;
}

/**
 * `BatchNormalization` at inference: y = x·scale + shift with scale = γ/√(var+ε) and
 * shift = β − mean·scale. Right after a convolution whose output nothing else reads, it folds into
 * the convolution's weight and bias and emits no node.
 */
export const convertBatchNormalization: OnnxLayerConverter = (call, ctx) => {
  const { layer, config } = call;
  const x = call.inputs[0]!;
  const rank = x.shape.length;
  const axes = normalizedAxes(config.axis, rank);
  if (axes.length !== 1)
    throw ctx.unsupported(layer, `batch normalization over axes ${JSON.stringify(config.axis)}`);
  const axis = axes[0]!;
  const channels = Number(x.shape[axis]);
  const epsilon = Number(config.epsilon ?? 1e-3);
  const mean = ctx.weight(layer, 'moving_mean').data;
  const variance = ctx.weight(layer, 'moving_variance').data;
  const gamma = ctx.hasWeight(layer, 'gamma') ? ctx.weight(layer, 'gamma').data : null;
  const beta = ctx.hasWeight(layer, 'beta') ? ctx.weight(layer, 'beta').data : null;
  const scale = new Float32Array(channels);
  const shift = new Float32Array(channels);
  for (let c = 0; c < channels; c++) {
    // float64 here: folding must not add rounding beyond what ONNX's own BatchNormalization would
    const s = (gamma ? gamma[c]! : 1) / Math.sqrt(variance[c]! + epsilon);
    scale[c] = s;
    shift[c] = (beta ? beta[c]! : 0) - mean[c]! * s;
  }

  const g = ctx.graph;
  if (x.conv && x.uses === 1 && axis === rank - 1 && x.conv.outChannels === channels) {
    const w = g.initializer(x.conv.weight)!.data as Float32Array;
    const b = g.initializer(x.conv.bias)!.data as Float32Array;
    const perChannel = w.length / channels;
    const folded = new Float32Array(w.length);
    for (let c = 0; c < channels; c++) {
      for (let k = 0; k < perChannel; k++) folded[c * perChannel + k] = w[c * perChannel + k]! * scale[c]!;
    }
    const foldedBias = new Float32Array(channels);
    for (let c = 0; c < channels; c++) foldedBias[c] = b[c]! * scale[c]! + shift[c]!;
    g.initializer(x.conv.weight)!.data = folded;
    g.initializer(x.conv.bias)!.data = foldedBias;
    return { name: x.name, layout: x.layout, conv: x.conv };
  }

  const p = physicalAxis(x, axis);
  const dims = [channels, ...Array.from({ length: rank - 1 - p }, () => 1)];
  const scaled = g.node(
    'Mul',
    [x.name, g.addFloat(`${layer.name}/scale`, scale, dims)],
    {},
    `${layer.name}/scale`,
  );
  return {
    name: g.node('Add', [scaled, g.addFloat(`${layer.name}/shift`, shift, dims)], {}, layer.name),
    layout: x.layout,
  };
};

/**
 * `LayerNormalization` over trailing axes: ONNX `LayerNormalization` (opset 17) with γ and β
 * (ones / zeros when the layer has no scale / center).
 */
export const convertLayerNormalization: OnnxLayerConverter = (call, ctx) => {
  const { layer, config } = call;
  const x = call.inputs[0]!;
  const rank = x.shape.length;
  const axes = normalizedAxes(config.axis, rank);
  const first = axes[0]!;
  if (axes.some((a, i) => a !== first + i) || axes[axes.length - 1] !== rank - 1 || first === 0) {
    throw ctx.unsupported(
      layer,
      `layer normalization over axes ${JSON.stringify(config.axis)} (only trailing axes)`,
    );
  }
  const dims = x.shape.slice(first).map(Number);
  const size = dims.reduce((a, b) => a * b, 1);
  const g = ctx.graph;
  const gamma = ctx.hasWeight(layer, 'gamma')
    ? ctx.weight(layer, 'gamma').data
    : new Float32Array(size).fill(1);
  const beta = ctx.hasWeight(layer, 'beta') ? ctx.weight(layer, 'beta').data : new Float32Array(size);
  const y = g.node(
    'LayerNormalization',
    [
      ctx.channelsLast(x),
      g.addFloat(`${layer.name}/gamma`, gamma, dims),
      g.addFloat(`${layer.name}/beta`, beta, dims),
    ],
    { axis: onnxAttr.int(first), epsilon: onnxAttr.float(Number(config.epsilon ?? 1e-3)) },
    layer.name,
  );
  return { name: y };
};
