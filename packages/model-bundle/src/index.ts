export { type LoadedBundle, loadBundle, type ModelBundle, readBundle, writeBundle } from './bundle';
export { type EmbedderOptions, ImageEmbedder } from './embedder';
export {
  decodeImage,
  fitImage,
  type ImageFormat,
  type ImageGeometry,
  MAX_INPUT_PIXELS,
  type RawImage,
  sniffImageFormat,
} from './image';
export {
  BUNDLE_FILES,
  BUNDLE_FORMAT_VERSION,
  type BundleInput,
  type BundleManifest,
  bundleInputSchema,
  IMAGE_FITS,
  type ImageFit,
  manifestSchema,
  validateAnchors,
  validateManifest,
} from './manifest';
export { loadOnnxRuntime, type OnnxRuntime } from './onnx-runtime';
