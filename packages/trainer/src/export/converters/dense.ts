import type { OnnxLayerConverter } from '../converter';
import { onnxAttr } from '../onnx-graph';

/**
 * `Dense`: `Gemm` on a 2-D input; on higher ranks tfjs contracts the last axis, which is `MatMul`
 * (broadcast over the leading axes) followed by `Add`.
 */
export const convertDense: OnnxLayerConverter = (call, ctx) => {
  const { layer } = call;
  const input = call.inputs[0]!;
  const x = ctx.channelsLast(input);
  const kernel = ctx.weight(layer, 'kernel');
  const [units] = kernel.shape.slice(-1) as [number];
  const g = ctx.graph;
  const w = g.addFloat(`${layer.name}/kernel`, kernel.data, kernel.shape);
  const hasBias = ctx.hasWeight(layer, 'bias');
  const rank = input.shape.length;
  let y: string;
  if (rank === 2) {
    const b = hasBias ? g.addFloat(`${layer.name}/bias`, ctx.weight(layer, 'bias').data, [units]) : '';
    y = g.node(
      'Gemm',
      b ? [x, w, b] : [x, w],
      { alpha: onnxAttr.float(1), beta: onnxAttr.float(1) },
      layer.name,
    );
  } else {
    y = g.node('MatMul', [x, w], {}, layer.name);
    if (hasBias)
      y = g.node('Add', [y, g.addFloat(`${layer.name}/bias`, ctx.weight(layer, 'bias').data, [units])]);
  }
  return { name: ctx.activation(y, call.config.activation ?? 'linear', layer, 'channelsLast', rank) };
};
