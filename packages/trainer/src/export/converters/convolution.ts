import type { OnnxConversionContext, OnnxLayerCall, OnnxLayerConverter } from '../converter';
import { onnxAttr } from '../onnx-graph';
import { pair, spatialPads } from './spatial';

function spatialInput(call: OnnxLayerCall, ctx: OnnxConversionContext): [number, number] {
  const x = call.inputs[0]!;
  if (x.shape.length !== 4) throw ctx.unsupported(call.layer, `input of rank ${x.shape.length} (expected 4)`);
  const h = x.shape[1];
  const w = x.shape[2];
  if (typeof h !== 'number' || typeof w !== 'number') {
    throw ctx.unsupported(call.layer, 'an input without a fixed height and width');
  }
  if (call.config.dataFormat === 'channelsFirst')
    throw ctx.unsupported(call.layer, "dataFormat 'channelsFirst'");
  return [h, w];
}

/**
 * `Conv2D`: NCHW `Conv` with the kernel permuted from tfjs [kh, kw, in, out] to ONNX
 * [out, in, kh, kw]. It always carries a bias (zeros when the layer has none) so that a following
 * BatchNormalization can fold into it.
 */
export const convertConv2D: OnnxLayerConverter = (call, ctx) => {
  const { layer, config } = call;
  const hw = spatialInput(call, ctx);
  const kernel = ctx.weight(layer, 'kernel');
  const [kh, kw, cin, cout] = kernel.shape as [number, number, number, number];
  const w = new Float32Array(kernel.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          w[((o * cin + i) * kh + y) * kw + x] = kernel.data[((y * kw + x) * cin + i) * cout + o]!;
  const bias = ctx.hasWeight(layer, 'bias') ? ctx.weight(layer, 'bias').data : new Float32Array(cout);

  const strides = pair(config.strides, 1);
  const dilations = pair(config.dilationRate, 1);
  const pads = spatialPads(config.padding, hw, [kh, kw], strides, dilations);
  const g = ctx.graph;
  const weightName = g.addFloat(`${layer.name}/kernel`, w, [cout, cin, kh, kw]);
  const biasName = g.addFloat(`${layer.name}/bias`, bias, [cout]);
  const y = g.node(
    'Conv',
    [ctx.channelsFirst(call.inputs[0]!), weightName, biasName],
    {
      kernel_shape: onnxAttr.ints([kh, kw]),
      strides: onnxAttr.ints(strides),
      dilations: onnxAttr.ints(dilations),
      pads: onnxAttr.ints(pads),
      group: onnxAttr.int(1),
    },
    layer.name,
  );
  const activation = config.activation ?? 'linear';
  if (activation === 'linear') {
    return {
      name: y,
      layout: 'channelsFirst',
      conv: { weight: weightName, bias: biasName, outChannels: cout },
    };
  }
  return { name: ctx.activation(y, activation, layer, 'channelsFirst', 4), layout: 'channelsFirst' };
};

/**
 * `DepthwiseConv2D`: a grouped `Conv` (group = input channels); tfjs kernel [kh, kw, in, mult]
 * becomes ONNX [in·mult, 1, kh, kw] with output channel i·mult + m, as tfjs orders it.
 */
export const convertDepthwiseConv2D: OnnxLayerConverter = (call, ctx) => {
  const { layer, config } = call;
  const hw = spatialInput(call, ctx);
  const kernel = ctx.weight(layer, 'depthwise_kernel');
  const [kh, kw, cin, mult] = kernel.shape as [number, number, number, number];
  const cout = cin * mult;
  const w = new Float32Array(kernel.data.length);
  for (let y = 0; y < kh; y++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let m = 0; m < mult; m++)
          w[((i * mult + m) * kh + y) * kw + x] = kernel.data[((y * kw + x) * cin + i) * mult + m]!;
  const bias = ctx.hasWeight(layer, 'bias') ? ctx.weight(layer, 'bias').data : new Float32Array(cout);
  const strides = pair(config.strides, 1);
  const dilations = pair(config.dilationRate, 1);
  const pads = spatialPads(config.padding, hw, [kh, kw], strides, dilations);
  const g = ctx.graph;
  const weightName = g.addFloat(`${layer.name}/kernel`, w, [cout, 1, kh, kw]);
  const biasName = g.addFloat(`${layer.name}/bias`, bias, [cout]);
  const y = g.node(
    'Conv',
    [ctx.channelsFirst(call.inputs[0]!), weightName, biasName],
    {
      kernel_shape: onnxAttr.ints([kh, kw]),
      strides: onnxAttr.ints(strides),
      dilations: onnxAttr.ints(dilations),
      pads: onnxAttr.ints(pads),
      group: onnxAttr.int(cin),
    },
    layer.name,
  );
  const activation = config.activation ?? 'linear';
  if (activation === 'linear') {
    return {
      name: y,
      layout: 'channelsFirst',
      conv: { weight: weightName, bias: biasName, outChannels: cout },
    };
  }
  return { name: ctx.activation(y, activation, layer, 'channelsFirst', 4), layout: 'channelsFirst' };
};

/** `ZeroPadding2D`: `Pad` with zeros on the spatial axes of the NCHW value. */
export const convertZeroPadding2D: OnnxLayerConverter = (call, ctx) => {
  spatialInput(call, ctx);
  const p = call.config.padding;
  let top: number;
  let bottom: number;
  let left: number;
  let right: number;
  if (Array.isArray(p) && Array.isArray(p[0])) {
    [top, bottom] = [Number(p[0][0]), Number(p[0][1])];
    [left, right] = [Number(p[1][0]), Number(p[1][1])];
  } else {
    const [ph, pw] = pair(p, 1);
    [top, bottom, left, right] = [ph, ph, pw, pw];
  }
  const g = ctx.graph;
  const pads = g.addInt64(`${call.layer.name}/pads`, [0, 0, top, left, 0, 0, bottom, right]);
  return {
    name: g.node('Pad', [ctx.channelsFirst(call.inputs[0]!), pads], {}, call.layer.name),
    layout: 'channelsFirst',
  };
};
