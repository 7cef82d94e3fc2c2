import type { OnnxLayerConverter } from '../converter';
import { onnxAttr } from '../onnx-graph';

/**
 * `Dot`: the batched matrix product attention is made of (Q·Kᵀ with axes [2, 2], weights·V with
 * axes [2, 1]) as `MatMul` with `Transpose`s; on 2-D inputs the row-wise dot product. `normalize`
 * (cosine) L2-normalises both inputs along their contracted axes first, as tfjs does.
 */
export const convertDot: OnnxLayerConverter = (call, ctx) => {
  const { layer, config } = call;
  const [a, b] = call.inputs as [NonNullable<(typeof call.inputs)[0]>, NonNullable<(typeof call.inputs)[0]>];
  const rank = a.shape.length;
  if (b.shape.length !== rank || (rank !== 2 && rank !== 3)) {
    throw ctx.unsupported(layer, `dot of ranks ${a.shape.length} and ${b.shape.length} (2 or 3 supported)`);
  }
  const rawAxes = config.axes;
  const list = Array.isArray(rawAxes) ? rawAxes : [rawAxes, rawAxes];
  const axes = list.map((v) => ((Number(v) % rank) + rank) % rank) as [number, number];
  if (axes[0] === 0 || axes[1] === 0) throw ctx.unsupported(layer, 'dot over the batch axis');
  const g = ctx.graph;
  let x = ctx.channelsLast(a);
  let y = ctx.channelsLast(b);
  if (config.normalize === true) {
    const l2 = (v: string, axis: number) =>
      g.node('LpNormalization', [v], { axis: onnxAttr.int(axis), p: onnxAttr.int(2) });
    x = l2(x, axes[0]);
    y = l2(y, axes[1]);
  }
  if (rank === 2) {
    const prod = g.node('Mul', [x, y]);
    const axesName = g.addInt64(`${layer.name}/axes`, [1]);
    return { name: g.node('ReduceSum', [prod, axesName], { keepdims: onnxAttr.int(1) }, layer.name) };
  }
  // batched: contract a's axis axes[0] with b's axis axes[1] → a' [N, i, k] · b' [N, k, j]
  const swap = (v: string) => g.node('Transpose', [v], { perm: onnxAttr.ints([0, 2, 1]) });
  const left = axes[0] === 2 ? x : swap(x);
  const right = axes[1] === 1 ? y : swap(y);
  return { name: g.node('MatMul', [left, right], {}, layer.name) };
};
