export {
  conv2dFilterGradient,
  conv2dInputGradient,
  FORWARD_CONV_GRADIENT_BACKENDS,
  registerConv2dGradient,
} from './conv2d-gradient';
export type { ModuleImporter } from './optional-import';
export { canReadSynchronously, gpuDevicePresent, silenceCpuBanner, vulkanLoaderPresent } from './quiet';
export {
  AUTO_ORDER,
  type BackendName,
  type BackendRequest,
  type BackendSelection,
  type SelectBackendOptions,
  selectBackend,
} from './select';
export { TENSORFLOW_PACKAGES, tryTensorflow } from './tensorflow';
export { registerTrainingKernels } from './training-kernels';
export { prepareWasmBackend, useWasmBackend, wasmBinaryDir } from './wasm';
export {
  type AdapterDescription,
  type BackendAttempt,
  isSoftwareAdapter,
  type TryWebGpuOptions,
  tryWebGpu,
} from './webgpu';
