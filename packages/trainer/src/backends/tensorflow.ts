import * as tf from '@tensorflow/tfjs';
import { importOptional, isModuleNotFound, type ModuleImporter } from './optional-import';
import type { BackendAttempt } from './webgpu';

/** The native TensorFlow bindings tried in order; neither is a dependency of this package. */
export const TENSORFLOW_PACKAGES: readonly string[] = ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node'];

function message(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/**
 * Brings up the native TensorFlow backend when the user has installed `@tensorflow/tfjs-node-gpu`
 * (CUDA) or `@tensorflow/tfjs-node`. Both download libtensorflow at install time, so they are
 * optional and loaded with a dynamic import; never throws.
 */
export async function tryTensorflow(importModule: ModuleImporter = importOptional): Promise<BackendAttempt> {
  const failures: string[] = [];
  for (const specifier of TENSORFLOW_PACKAGES) {
    try {
      await importModule(specifier);
    } catch (error) {
      failures.push(
        isModuleNotFound(error) ? `${specifier} is not installed` : `${specifier}: ${message(error)}`,
      );
      continue;
    }
    try {
      if (tf.findBackendFactory('tensorflow') !== null && (await tf.setBackend('tensorflow'))) {
        return { ok: true, detail: `native TensorFlow through ${specifier}` };
      }
      failures.push(`${specifier} loaded but registered no "tensorflow" backend (a different tfjs version?)`);
    } catch (error) {
      failures.push(`${specifier}: ${message(error)}`);
    }
  }
  return { ok: false, reason: failures.join('; ') };
}
