import type * as tf from '@tensorflow/tfjs';
import type { OnnxGraphBuilder } from './onnx-graph';

/**
 * Physical memory order of a value in the ONNX graph. tfjs is channels-last (NHWC); ONNX's Conv and
 * pooling ops are channels-first (NCHW). A rank-4 value may live in either; converters ask the
 * context for the order they need and transposes are inserted (once per value) only when it differs.
 */
export type OnnxLayout = 'channelsLast' | 'channelsFirst';

/** What a BatchNormalization that follows a convolution may fold into: the conv's initialisers. */
export interface ConvFoldTarget {
  /** Initialiser of the ONNX weight, [outChannels, inChannels, kh, kw]. */
  readonly weight: string;
  /** Initialiser of the ONNX bias, [outChannels]. */
  readonly bias: string;
  readonly outChannels: number;
}

/** A tfjs symbolic tensor as it exists in the ONNX graph. */
export interface OnnxValue {
  /** ONNX value name. */
  readonly name: string;
  /** The tfjs (logical, channels-last) shape; `null` is the batch dimension. */
  readonly shape: readonly (number | null)[];
  readonly layout: OnnxLayout;
  /** How many layer calls consume the value (a model output counts as one more). */
  readonly uses: number;
  /** Set when the value is a bias-carrying convolution output with no activation after it. */
  readonly conv?: ConvFoldTarget;
}

/** What a converter returns for each output of the layer call. */
export interface OnnxConverterOutput {
  readonly name: string;
  /** Defaults to `channelsLast`. */
  readonly layout?: OnnxLayout;
  readonly conv?: ConvFoldTarget;
}

/** One call of a tfjs layer, as handed to its converter. */
export interface OnnxLayerCall {
  readonly layer: tf.layers.Layer;
  /** `layer.getConfig()`. */
  readonly config: Record<string, unknown>;
  readonly inputs: readonly OnnxValue[];
  /** tfjs output shapes of this call (`null` = batch). */
  readonly outputShapes: readonly (readonly (number | null)[])[];
}

/** A layer weight read out of tfjs, row-major in tfjs's own shape convention. */
export interface LayerWeight {
  readonly data: Float32Array;
  readonly shape: readonly number[];
}

/** Services the exporter gives every converter. */
export interface OnnxConversionContext {
  readonly graph: OnnxGraphBuilder;
  /** Name of `value` in channels-last (tfjs) order, transposing if needed. */
  channelsLast(value: OnnxValue): string;
  /** Name of a rank-4 `value` in channels-first (NCHW) order, transposing if needed. */
  channelsFirst(value: OnnxValue): string;
  /** The layer weight whose name ends in `/${suffix}` (a copy), or a clear error when absent. */
  weight(layer: tf.layers.Layer, suffix: string): LayerWeight;
  /** Whether the layer has a weight whose name ends in `/${suffix}`. */
  hasWeight(layer: tf.layers.Layer, suffix: string): boolean;
  /**
   * Applies a tfjs activation (the string in a layer config, e.g. `'relu'`, `'gelu'`) to the ONNX
   * value `input` of rank `rank` stored in `layout`; returns the output name.
   */
  activation(
    input: string,
    activation: unknown,
    layer: tf.layers.Layer,
    layout: OnnxLayout,
    rank: number,
  ): string;
  /** An AnchorageError of code UNSUPPORTED that names the layer, for converters to throw. */
  unsupported(layer: tf.layers.Layer, what: string): Error;
}

/**
 * Maps one tfjs layer call to ONNX nodes. Return one output per tfjs output of the call.
 * @example
 * registerOnnxConverter('ScaleLayer', (call, ctx) => {
 *   const x = ctx.channelsLast(call.inputs[0]!);
 *   const k = ctx.graph.addFloat('scale', [2], []);
 *   return { name: ctx.graph.node('Mul', [x, k]) };
 * });
 */
export type OnnxLayerConverter = (
  call: OnnxLayerCall,
  ctx: OnnxConversionContext,
) => OnnxConverterOutput | readonly OnnxConverterOutput[];
