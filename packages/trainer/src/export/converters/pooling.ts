import type { OnnxLayerConverter } from '../converter';
import { onnxAttr } from '../onnx-graph';
import { pair, spatialPads } from './spatial';

function pooling(opType: 'MaxPool' | 'AveragePool'): OnnxLayerConverter {
  return (call, ctx) => {
    const { layer, config } = call;
    const x = call.inputs[0]!;
    const h = x.shape[1];
    const w = x.shape[2];
    if (x.shape.length !== 4 || typeof h !== 'number' || typeof w !== 'number') {
      throw ctx.unsupported(layer, `pooling over shape ${JSON.stringify(x.shape)}`);
    }
    if (config.dataFormat === 'channelsFirst') throw ctx.unsupported(layer, "dataFormat 'channelsFirst'");
    const kernel = pair(config.poolSize, 2);
    const strides =
      config.strides === null || config.strides === undefined ? kernel : pair(config.strides, 1);
    const pads = spatialPads(config.padding, [h, w], kernel, strides, [1, 1]);
    // TF's SAME average pooling divides by the number of real (unpadded) inputs: count_include_pad = 0
    const attrs = {
      kernel_shape: onnxAttr.ints(kernel),
      strides: onnxAttr.ints(strides),
      pads: onnxAttr.ints(pads),
      ...(opType === 'AveragePool' ? { count_include_pad: onnxAttr.int(0) } : {}),
    };
    return {
      name: ctx.graph.node(opType, [ctx.channelsFirst(x)], attrs, layer.name),
      layout: 'channelsFirst',
    };
  };
}

/** `MaxPooling2D` (valid or TF-SAME padding). */
export const convertMaxPooling2D = pooling('MaxPool');
/** `AveragePooling2D` (valid or TF-SAME padding; padding excluded from the mean as in TF). */
export const convertAveragePooling2D = pooling('AveragePool');

function globalPooling(opType: 'GlobalAveragePool' | 'GlobalMaxPool'): OnnxLayerConverter {
  return (call, ctx) => {
    const x = call.inputs[0]!;
    if (x.shape.length !== 4) throw ctx.unsupported(call.layer, `global pooling over rank ${x.shape.length}`);
    if (call.config.dataFormat === 'channelsFirst')
      throw ctx.unsupported(call.layer, "dataFormat 'channelsFirst'");
    const g = ctx.graph;
    const pooled = g.node(opType, [ctx.channelsFirst(x)], {}, call.layer.name); // [N, C, 1, 1]
    if (call.config.keepDims === true) return { name: pooled, layout: 'channelsFirst' };
    return { name: g.node('Flatten', [pooled], { axis: onnxAttr.int(1) }, `${call.layer.name}/flatten`) };
  };
}

/** `GlobalAveragePooling2D` → [N, C] (or [N, 1, 1, C] with keepDims). */
export const convertGlobalAveragePooling2D = globalPooling('GlobalAveragePool');
/** `GlobalMaxPooling2D` → [N, C] (or [N, 1, 1, C] with keepDims). */
export const convertGlobalMaxPooling2D = globalPooling('GlobalMaxPool');

function globalPooling1D(opType: 'ReduceMean' | 'ReduceMax'): OnnxLayerConverter {
  return (call, ctx) => {
    const x = call.inputs[0]!;
    if (x.shape.length !== 3)
      throw ctx.unsupported(call.layer, `1-D global pooling over rank ${x.shape.length}`);
    const y = ctx.graph.node(
      opType,
      [x.name],
      { axes: onnxAttr.ints([1]), keepdims: onnxAttr.int(call.config.keepDims === true ? 1 : 0) },
      call.layer.name,
    );
    return { name: y };
  };
}

/** `GlobalAveragePooling1D`: the mean over the steps (tokens) of [N, T, D] → [N, D]. */
export const convertGlobalAveragePooling1D = globalPooling1D('ReduceMean');
/** `GlobalMaxPooling1D`: the maximum over the steps of [N, T, D] → [N, D]. */
export const convertGlobalMaxPooling1D = globalPooling1D('ReduceMax');
