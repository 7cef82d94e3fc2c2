export {
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  type BundleInput,
  type BundleManifest,
  type ModelBundle,
  readBundle,
  validateAnchors,
  validateManifest,
  writeBundle,
} from './bundle';
export { registerExportCommands } from './cli';
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
  type BundleEmbedder,
  createBundleEmbedder,
  type EmbedDatasetOptions,
  embedDataset,
  labelsPathFor,
} from './embed';
export { type ExportModelBundleOptions, exportCheckpointBundle, exportModelBundle } from './export-model';
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
export { loadOnnxRuntime, type OnnxRuntime } from './onnx-runtime';
export { builtinOnnxLayerClasses, findOnnxConverter, registerOnnxConverter } from './registry';
export {
  ONNX_INPUT_NAME,
  ONNX_OUTPUT_NAME,
  type OnnxExportOptions,
  readWeightValues,
  tfjsToOnnx,
} from './tfjs-to-onnx';
