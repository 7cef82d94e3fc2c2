export type {
  ConvFoldTarget,
  LayerWeight,
  OnnxConversionContext,
  OnnxConverterOutput,
  OnnxLayerCall,
  OnnxLayerConverter,
  OnnxLayout,
  OnnxValue,
} from './converter';
export { SUPPORTED_ACTIVATIONS } from './converters/activations';
export {
  ONNX_IR_VERSION,
  ONNX_OPSET,
  type OnnxAttribute,
  type OnnxElementType,
  OnnxGraphBuilder,
  type OnnxInitializer,
  type OnnxValueInfo,
  onnxAttr,
} from './onnx-graph';
export { builtinOnnxLayerClasses, findOnnxConverter, registerOnnxConverter } from './registry';
export { ONNX_INPUT_NAME, ONNX_OUTPUT_NAME, type OnnxExportOptions, tfjsToOnnx } from './tfjs-to-onnx';
