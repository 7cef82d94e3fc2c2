import type { OnnxConversionContext, OnnxLayerConverter, OnnxLayout, OnnxValue } from '../converter';
import { onnxAttr } from '../onnx-graph';

/** Inputs in one common layout: the shared one when they agree (no transposes), else channels-last. */
function common(
  values: readonly OnnxValue[],
  ctx: OnnxConversionContext,
): { names: string[]; layout: OnnxLayout } {
  const layout = values.every((v) => v.layout === values[0]!.layout) ? values[0]!.layout : 'channelsLast';
  return {
    names: values.map((v) => (layout === 'channelsFirst' ? ctx.channelsFirst(v) : ctx.channelsLast(v))),
    layout,
  };
}

function elementwise(opType: 'Sum' | 'Mul' | 'Mean' | 'Max' | 'Min'): OnnxLayerConverter {
  return (call, ctx) => {
    const { names, layout } = common(call.inputs, ctx);
    const g = ctx.graph;
    // binary Add / Mul are what runtimes fuse best; the variadic forms only when there are more inputs
    let y: string;
    if (names.length === 2 && opType === 'Sum') y = g.node('Add', names, {}, call.layer.name);
    else if (names.length === 2 && opType === 'Mul') y = g.node('Mul', names, {}, call.layer.name);
    else y = g.node(opType, names, {}, call.layer.name);
    return { name: y, layout };
  };
}

/** `Add` (residual connections). */
export const convertAdd = elementwise('Sum');
/** `Multiply`. */
export const convertMultiply = elementwise('Mul');
/** `Average`. */
export const convertAverage = elementwise('Mean');
/** `Maximum`. */
export const convertMaximum = elementwise('Max');
/** `Minimum`. */
export const convertMinimum = elementwise('Min');

/** `Concatenate` along its tfjs axis, mapped onto the layout the inputs share. */
export const convertConcatenate: OnnxLayerConverter = (call, ctx) => {
  const { names, layout } = common(call.inputs, ctx);
  const rank = call.inputs[0]!.shape.length;
  const axis = ((Number(call.config.axis ?? -1) % rank) + rank) % rank;
  const physical = layout === 'channelsFirst' && rank === 4 ? [0, 2, 3, 1][axis]! : axis;
  return { name: ctx.graph.node('Concat', names, { axis: onnxAttr.int(physical) }, call.layer.name), layout };
};
