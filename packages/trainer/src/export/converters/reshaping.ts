import type { OnnxLayerConverter } from '../converter';
import { onnxAttr } from '../onnx-graph';

/** `Flatten`: in channels-last order, so that a Dense after it sees tfjs's element order. */
export const convertFlatten: OnnxLayerConverter = (call, ctx) => {
  const x = ctx.channelsLast(call.inputs[0]!);
  return { name: ctx.graph.node('Flatten', [x], { axis: onnxAttr.int(1) }, call.layer.name) };
};

/**
 * `Reshape` to `targetShape` with its −1 resolved here from the static input size, so that the
 * batch dimension is the only one ONNX infers (−1).
 */
export const convertReshape: OnnxLayerConverter = (call, ctx) => {
  const input = call.inputs[0]!;
  const x = ctx.channelsLast(input);
  const size = input.shape.slice(1).reduce<number>((a, d) => a * Number(d), 1);
  // tfjs serialises the −1 of targetShape as null
  const raw = (call.config.targetShape as (number | null)[]).map((d) => (d === null ? -1 : Number(d)));
  const known = raw.filter((d) => d !== -1).reduce((a, d) => a * d, 1);
  const target = raw.map((d) => (d === -1 ? size / known : d));
  if (target.some((d) => !Number.isInteger(d) || d < 1)) {
    throw ctx.unsupported(call.layer, `reshape of ${JSON.stringify(input.shape)} to ${JSON.stringify(raw)}`);
  }
  const shape = ctx.graph.addInt64(`${call.layer.name}/shape`, [-1, ...target]);
  return { name: ctx.graph.node('Reshape', [x, shape], {}, call.layer.name) };
};

/** `Permute`: a `Transpose` that keeps the batch axis first (tfjs dims are 1-based). */
export const convertPermute: OnnxLayerConverter = (call, ctx) => {
  const x = ctx.channelsLast(call.inputs[0]!);
  const dims = (call.config.dims as number[]).map(Number);
  return { name: ctx.graph.node('Transpose', [x], { perm: onnxAttr.ints([0, ...dims]) }, call.layer.name) };
};

/** Layers that are the identity at inference (dropout, noise, regularisers). */
export const convertIdentity: OnnxLayerConverter = (call) => {
  const x = call.inputs[0]!;
  return { name: x.name, layout: x.layout, ...(x.conv ? { conv: x.conv } : {}) };
};
