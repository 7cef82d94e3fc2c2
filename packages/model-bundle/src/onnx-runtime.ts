import { AnchorageError } from '@anchorage/loss-core';

/** The onnxruntime-node module, typed from the optional peer dependency. */
export type OnnxRuntime = typeof import('onnxruntime-node');

let runtime: Promise<OnnxRuntime> | undefined;

/**
 * Loads onnxruntime-node, an optional peer dependency: only embedding images needs it. Throws an
 * AnchorageError (code NOT_FOUND) that says how to install it when it is missing.
 */
export function loadOnnxRuntime(): Promise<OnnxRuntime> {
  runtime ??= import('onnxruntime-node').then(
    (module) =>
      ((module as { default?: OnnxRuntime }).default?.InferenceSession
        ? module.default
        : module) as OnnxRuntime,
    (cause: unknown) => {
      runtime = undefined;
      throw new AnchorageError(
        'NOT_FOUND',
        'embedding with model.onnx needs onnxruntime-node, an optional peer dependency: npm install onnxruntime-node',
        { argument: 'onnxruntime-node', value: undefined, cause },
      );
    },
  );
  return runtime;
}
