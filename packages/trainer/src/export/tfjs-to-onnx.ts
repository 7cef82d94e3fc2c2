import { AnchorageError } from '@anchorage/loss-core';
import type * as tf from '@tensorflow/tfjs';
import { NORM_EPSILON } from '../losses/normalize';
import type {
  LayerWeight,
  OnnxConversionContext,
  OnnxConverterOutput,
  OnnxLayerCall,
  OnnxLayout,
  OnnxValue,
} from './converter';
import { emitActivation } from './converters/activations';
import { type OnnxElementType, OnnxGraphBuilder, onnxAttr } from './onnx-graph';
import { findOnnxConverter } from './registry';

/** Name of the graph input of every exported model: a batch of images, NHWC. */
export const ONNX_INPUT_NAME = 'images';
/** Name of the graph output of every exported model: embeddings, [N, d]. */
export const ONNX_OUTPUT_NAME = 'embeddings';

/** Options of {@link tfjsToOnnx}. */
export interface OnnxExportOptions {
  /** Element type of the graph input; `uint8` is cast to float inside the graph. Default `float32`. */
  inputType?: 'float32' | 'uint8';
  /**
   * Multiplies the input before normalisation: the graph computes `(x · pixelScale − mean) / std`
   * per channel (last axis). Default 1 (the input is fed to the model unchanged).
   */
  pixelScale?: number;
  /** Per-channel mean (one number, or one per channel). Default 0. */
  mean?: number | readonly number[];
  /** Per-channel standard deviation, > 0 (one number, or one per channel). Default 1. */
  std?: number | readonly number[];
  /**
   * Divide each output row by its norm, `e / sqrt(‖e‖² + 1e-12)`, inside the graph: the retrieval
   * embedding of a loss trained on normalised embeddings. Default false.
   */
  l2Normalize?: boolean;
  /** Written into the model's `producer_version`. */
  producerVersion?: string;
  /**
   * The model's weight values read beforehand (see {@link readWeightValues}). Without them each
   * weight is read synchronously, which webgpu in Node cannot do.
   */
  weightValues?: ReadonlyMap<tf.LayerVariable, Float32Array>;
}

/**
 * Reads every weight of a model asynchronously, for {@link tfjsToOnnx}'s `weightValues`: the way
 * to export a model that lives on a backend without synchronous reads (webgpu in Node).
 */
export async function readWeightValues(model: tf.LayersModel): Promise<Map<tf.LayerVariable, Float32Array>> {
  const values = new Map<tf.LayerVariable, Float32Array>();
  for (const w of model.weights) values.set(w, Float32Array.from((await w.read().data()) as Float32Array));
  return values;
}

type SymbolicTensor = tf.SymbolicTensor;
interface TfNode {
  readonly outboundLayer: tf.layers.Layer;
  readonly inputTensors: SymbolicTensor[];
  readonly outputTensors: SymbolicTensor[];
  readonly outputShapes: unknown;
}
interface TfContainer {
  readonly name: string;
  readonly layers: tf.layers.Layer[];
  readonly inputs: SymbolicTensor[];
  readonly outputs: SymbolicTensor[];
}

function isContainer(layer: unknown): layer is TfContainer {
  const l = layer as Partial<TfContainer>;
  return Array.isArray(l.layers) && Array.isArray(l.inputs) && Array.isArray(l.outputs);
}

function inboundNodes(layer: tf.layers.Layer): TfNode[] {
  return (layer as unknown as { inboundNodes: TfNode[] }).inboundNodes ?? [];
}

function shapeList(shapes: unknown): (number | null)[][] {
  const list = shapes as (number | null)[] | (number | null)[][];
  return list.length > 0 && Array.isArray(list[0])
    ? (list as (number | null)[][])
    : [list as (number | null)[]];
}

function perChannel(argument: string, v: number | readonly number[], channels: number): number[] {
  const list = typeof v === 'number' ? Array.from({ length: channels }, () => v) : [...v];
  if (list.length !== channels || list.some((x) => typeof x !== 'number' || !Number.isFinite(x))) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${argument} must be a finite number or ${channels} finite numbers (one per channel)`,
      { argument, value: v },
    );
  }
  return list;
}

class ConversionContext implements OnnxConversionContext {
  readonly #transposes = new Map<string, string>();
  constructor(
    readonly graph: OnnxGraphBuilder,
    readonly weightValues?: ReadonlyMap<tf.LayerVariable, Float32Array>,
  ) {}

  channelsLast(value: OnnxValue): string {
    if (value.layout === 'channelsLast' || value.shape.length !== 4) return value.name;
    return this.#transpose(value.name, [0, 2, 3, 1], 'nhwc');
  }

  channelsFirst(value: OnnxValue): string {
    if (value.layout === 'channelsFirst') return value.name;
    if (value.shape.length !== 4) {
      throw new AnchorageError(
        'UNSUPPORTED',
        `value "${value.name}" of rank ${value.shape.length} has no NCHW form`,
        {
          argument: 'model',
          value: value.shape,
        },
      );
    }
    return this.#transpose(value.name, [0, 3, 1, 2], 'nchw');
  }

  #transpose(name: string, perm: number[], tag: string): string {
    const key = `${name}->${tag}`;
    let out = this.#transposes.get(key);
    if (out === undefined) {
      out = this.graph.node('Transpose', [name], { perm: onnxAttr.ints(perm) }, `${name}/to_${tag}`);
      this.#transposes.set(key, out);
    }
    return out;
  }

  #find(layer: tf.layers.Layer, suffix: string) {
    return layer.weights.find((w) => w.originalName.endsWith(`/${suffix}`) || w.originalName === suffix);
  }

  hasWeight(layer: tf.layers.Layer, suffix: string): boolean {
    return this.#find(layer, suffix) !== undefined;
  }

  weight(layer: tf.layers.Layer, suffix: string): LayerWeight {
    const w = this.#find(layer, suffix);
    if (!w) throw this.unsupported(layer, `missing weight "${suffix}"`);
    const known = this.weightValues?.get(w);
    if (known !== undefined) return { data: known.slice(), shape: w.shape as number[] };
    const t = w.read();
    return { data: Float32Array.from(t.dataSync() as Float32Array), shape: [...t.shape] };
  }

  activation(
    input: string,
    activation: unknown,
    layer: tf.layers.Layer,
    layout: OnnxLayout,
    rank: number,
  ): string {
    const name = activation === undefined || activation === null ? 'linear' : activation;
    const out =
      typeof name === 'string'
        ? emitActivation(this.graph, input, name, layer.name, layout, rank)
        : undefined;
    if (out === undefined) throw this.unsupported(layer, `activation ${JSON.stringify(activation)}`);
    return out;
  }

  unsupported(layer: tf.layers.Layer, what: string): Error {
    const className = layer.getClassName();
    return new AnchorageError(
      'UNSUPPORTED',
      `cannot export layer "${layer.name}" (class ${className}) to ONNX: ${what}`,
      { argument: 'model', value: { layer: layer.name, className } },
    );
  }
}

/**
 * Converts the graph of a container (model) given the ONNX values of its inputs. Nested models
 * recurse; shared layers are handled per call (each tfjs node converts separately).
 */
function convertContainer(
  container: TfContainer,
  inputs: readonly OnnxValue[],
  ctx: ConversionContext,
): OnnxValue[] {
  const inputIds = new Set(container.inputs.map((t) => t.id));
  const producer = new Map<number, TfNode>();
  for (const layer of container.layers) {
    for (const node of inboundNodes(layer)) for (const t of node.outputTensors) producer.set(t.id, node);
  }

  // depth-first from the outputs: only calls that feed an output, in an order where producers come first
  const order: TfNode[] = [];
  const visited = new Set<TfNode>();
  const visit = (id: number) => {
    if (inputIds.has(id)) return;
    const node = producer.get(id);
    if (!node) {
      throw new AnchorageError(
        'UNSUPPORTED',
        `model "${container.name}": tensor ${id} has no producing layer`,
        {
          argument: 'model',
          value: container.name,
        },
      );
    }
    if (visited.has(node)) return;
    visited.add(node);
    for (const t of node.inputTensors) visit(t.id);
    order.push(node);
  };
  for (const t of container.outputs) visit(t.id);

  const uses = new Map<number, number>();
  const use = (id: number) => uses.set(id, (uses.get(id) ?? 0) + 1);
  for (const node of order) for (const t of node.inputTensors) use(t.id);
  for (const t of container.outputs) use(t.id);

  const values = new Map<number, OnnxValue>();
  container.inputs.forEach((t, i) => {
    const outer = inputs[i]!;
    values.set(t.id, { ...outer, uses: outer.uses - 1 + (uses.get(t.id) ?? 0) });
  });

  for (const node of order) {
    const layer = node.outboundLayer;
    const callInputs = node.inputTensors.map((t) => values.get(t.id)!);
    const outputShapes = shapeList(node.outputShapes);
    let outputs: readonly OnnxConverterOutput[];
    if (isContainer(layer)) {
      outputs = convertContainer(layer, callInputs, ctx);
    } else {
      const className = layer.getClassName();
      const converter = findOnnxConverter(className);
      if (!converter) {
        throw ctx.unsupported(
          layer,
          `no converter for class ${className}; register one with registerOnnxConverter('${className}', fn)`,
        );
      }
      const call: OnnxLayerCall = {
        layer,
        config: layer.getConfig() as Record<string, unknown>,
        inputs: callInputs,
        outputShapes,
      };
      const result = converter(call, ctx);
      outputs = Array.isArray(result) ? result : [result as OnnxConverterOutput];
    }
    if (outputs.length !== node.outputTensors.length) {
      throw ctx.unsupported(
        layer,
        `converter returned ${outputs.length} outputs for ${node.outputTensors.length}`,
      );
    }
    node.outputTensors.forEach((t, i) => {
      const out = outputs[i]!;
      const shape = t.shape as (number | null)[];
      values.set(t.id, {
        name: out.name,
        shape,
        layout: shape.length === 4 ? (out.layout ?? 'channelsLast') : 'channelsLast',
        uses: uses.get(t.id) ?? 0,
        ...(out.conv ? { conv: out.conv } : {}),
      });
    });
  }
  return container.outputs.map((t) => values.get(t.id)!);
}

/**
 * Converts a tfjs LayersModel (sequential or functional, nested models included) with one input
 * and one output to an ONNX model (opset 17). The graph input `images` has the model's input shape
 * with a dynamic batch dimension (NHWC for images), of `inputType`; `(x · pixelScale − mean) / std`
 * is computed in the graph. The output `embeddings` has the model's output shape. Returns the
 * serialised `ModelProto`. Unsupported layers throw an AnchorageError (code UNSUPPORTED) naming the
 * layer and its class; {@link registerOnnxConverter} adds converters.
 */
export function tfjsToOnnx(model: tf.LayersModel, options: OnnxExportOptions = {}): Uint8Array {
  if (!isContainer(model)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'model must be a tfjs LayersModel', {
      argument: 'model',
      value: model,
    });
  }
  if (model.inputs.length !== 1 || model.outputs.length !== 1) {
    throw new AnchorageError(
      'UNSUPPORTED',
      `model must have one input and one output (has ${model.inputs.length} and ${model.outputs.length})`,
      { argument: 'model', value: { inputs: model.inputs.length, outputs: model.outputs.length } },
    );
  }
  const inputType = options.inputType ?? 'float32';
  if (inputType !== 'float32' && inputType !== 'uint8') {
    throw new AnchorageError('INVALID_ARGUMENT', "inputType must be 'float32' or 'uint8'", {
      argument: 'inputType',
      value: inputType,
    });
  }
  const pixelScale = options.pixelScale ?? 1;
  if (typeof pixelScale !== 'number' || !Number.isFinite(pixelScale) || pixelScale <= 0) {
    throw new AnchorageError('INVALID_ARGUMENT', 'pixelScale must be a finite number > 0', {
      argument: 'pixelScale',
      value: pixelScale,
    });
  }
  const inputShape = model.inputs[0]!.shape;
  const featureShape = inputShape.slice(1);
  if (featureShape.some((d) => typeof d !== 'number' || d <= 0)) {
    throw new AnchorageError(
      'UNSUPPORTED',
      `model input must have a fixed shape apart from the batch (has ${JSON.stringify(inputShape)})`,
      {
        argument: 'model',
        value: inputShape,
      },
    );
  }
  const channels = featureShape[featureShape.length - 1] as number;
  const mean = perChannel('mean', options.mean ?? 0, channels);
  const std = perChannel('std', options.std ?? 1, channels);
  if (std.some((s) => s <= 0)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'std must be > 0 for every channel', {
      argument: 'std',
      value: options.std,
    });
  }

  const g = new OnnxGraphBuilder(model.name);
  const dims = ['batch', ...(featureShape as number[])];
  let x = g.addInput({ name: ONNX_INPUT_NAME, type: inputType as OnnxElementType, dims });
  if (inputType === 'uint8') x = g.node('Cast', [x], { to: onnxAttr.int(1) }, 'input/cast');
  const scale = std.map((s) => pixelScale / s);
  const shift = mean.map((m, i) => -m / std[i]!);
  if (scale.some((s) => s !== 1))
    x = g.node('Mul', [x, g.addFloat('input/scale', scale, [channels])], {}, 'input/scale');
  if (shift.some((s) => s !== 0))
    x = g.node('Add', [x, g.addFloat('input/shift', shift, [channels])], {}, 'input/shift');

  const ctx = new ConversionContext(g, options.weightValues);
  const [output] = convertContainer(
    model,
    [{ name: x, shape: inputShape, layout: 'channelsLast', uses: 1 }],
    ctx,
  );
  const out = output!;
  // a final Identity gives the output a stable name whatever the last layer is
  const outputDims = ['batch', ...(out.shape.slice(1) as number[])];
  let y = ctx.channelsLast(out);
  if (options.l2Normalize) {
    if (out.shape.length !== 2) {
      throw new AnchorageError(
        'UNSUPPORTED',
        `l2Normalize needs an N×d output, not ${JSON.stringify(out.shape)}`,
        {
          argument: 'model',
          value: out.shape,
        },
      );
    }
    const squares = g.node('Mul', [y, y], {}, 'output/square');
    const axes = g.addInt64('output/axes', [1]);
    const sum = g.node('ReduceSum', [squares, axes], { keepdims: onnxAttr.int(1) }, 'output/sum');
    const shifted = g.node(
      'Add',
      [sum, g.addFloat('output/epsilon', [NORM_EPSILON], [])],
      {},
      'output/epsilon',
    );
    y = g.node('Div', [y, g.node('Sqrt', [shifted], {}, 'output/norm')], {}, 'output/normalize');
  }
  g.addNode('Identity', [y], {}, { name: ONNX_OUTPUT_NAME, outputs: [ONNX_OUTPUT_NAME] });
  g.addOutput({ name: ONNX_OUTPUT_NAME, type: 'float32', dims: outputDims });
  return g.toBytes(options.producerVersion === undefined ? {} : { producerVersion: options.producerVersion });
}
