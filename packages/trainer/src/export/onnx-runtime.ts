export { loadOnnxRuntime, type OnnxRuntime } from '@anchorage/model-bundle';
