import { AnchorageError } from '@anchorage/loss-core';
import { createRegistry } from '../registry';
import type { OnnxLayerConverter } from './converter';
import {
  convertActivation,
  convertELU,
  convertLeakyReLU,
  convertReLU,
  convertSoftmax,
} from './converters/activations';
import { convertDot } from './converters/attention';
import { convertConv2D, convertDepthwiseConv2D, convertZeroPadding2D } from './converters/convolution';
import { convertDense } from './converters/dense';
import {
  convertAdd,
  convertAverage,
  convertConcatenate,
  convertMaximum,
  convertMinimum,
  convertMultiply,
} from './converters/merging';
import { convertBatchNormalization, convertLayerNormalization } from './converters/normalization';
import {
  convertAveragePooling2D,
  convertGlobalAveragePooling1D,
  convertGlobalAveragePooling2D,
  convertGlobalMaxPooling1D,
  convertGlobalMaxPooling2D,
  convertMaxPooling2D,
} from './converters/pooling';
import { convertFlatten, convertIdentity, convertPermute, convertReshape } from './converters/reshaping';

const BUILTIN: ReadonlyMap<string, OnnxLayerConverter> = new Map<string, OnnxLayerConverter>([
  ['Conv2D', convertConv2D],
  ['DepthwiseConv2D', convertDepthwiseConv2D],
  ['ZeroPadding2D', convertZeroPadding2D],
  ['Dense', convertDense],
  ['Activation', convertActivation],
  ['ReLU', convertReLU],
  ['LeakyReLU', convertLeakyReLU],
  ['ELU', convertELU],
  ['Softmax', convertSoftmax],
  ['MaxPooling2D', convertMaxPooling2D],
  ['AveragePooling2D', convertAveragePooling2D],
  ['GlobalAveragePooling2D', convertGlobalAveragePooling2D],
  ['GlobalMaxPooling2D', convertGlobalMaxPooling2D],
  ['GlobalAveragePooling1D', convertGlobalAveragePooling1D],
  ['GlobalMaxPooling1D', convertGlobalMaxPooling1D],
  ['Flatten', convertFlatten],
  ['Reshape', convertReshape],
  ['Permute', convertPermute],
  ['BatchNormalization', convertBatchNormalization],
  ['LayerNormalization', convertLayerNormalization],
  ['Add', convertAdd],
  ['Multiply', convertMultiply],
  ['Average', convertAverage],
  ['Maximum', convertMaximum],
  ['Minimum', convertMinimum],
  ['Concatenate', convertConcatenate],
  ['Dot', convertDot],
  ['Dropout', convertIdentity],
  ['SpatialDropout1D', convertIdentity],
  ['SpatialDropout2D', convertIdentity],
  ['AlphaDropout', convertIdentity],
  ['GaussianDropout', convertIdentity],
  ['GaussianNoise', convertIdentity],
  ['ActivityRegularization', convertIdentity],
]);

const custom = createRegistry<OnnxLayerConverter>('ONNX converter');

/**
 * Registers the ONNX converter of a tfjs layer class (its `getClassName()`), e.g. a custom
 * attention layer; it takes precedence over a built-in converter of the same class. Returns a
 * function that removes the registration again.
 * @example
 * const unregister = registerOnnxConverter('PatchEmbedding', (call, ctx) => ({ name: … }));
 */
export function registerOnnxConverter(className: string, converter: OnnxLayerConverter): () => void {
  if (typeof className !== 'string' || className.length === 0) {
    throw new AnchorageError('INVALID_ARGUMENT', 'className must be a non-empty string', {
      argument: 'className',
      value: className,
    });
  }
  if (typeof converter !== 'function') {
    throw new AnchorageError('INVALID_ARGUMENT', `converter for "${className}" must be a function`, {
      argument: 'converter',
      value: converter,
    });
  }
  return custom.register(className, converter);
}

/** The converter for a layer class: a registered one first, then the built-in; undefined if none. */
export function findOnnxConverter(className: string): OnnxLayerConverter | undefined {
  return custom.has(className) ? custom.get(className) : BUILTIN.get(className);
}

/** Layer classes the exporter converts without registration. */
export function builtinOnnxLayerClasses(): string[] {
  return [...BUILTIN.keys()].sort();
}
