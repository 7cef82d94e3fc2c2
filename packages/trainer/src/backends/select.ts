import { AnchorageError } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';
import { convKernelsFor, convKernelVariant } from './conv-wasm/kernels';
import { importOptional, type ModuleImporter } from './optional-import';
import { silenceCpuBanner } from './quiet';
import { tryTensorflow } from './tensorflow';
import { registerTrainingKernels } from './training-kernels';
import { prepareWasmBackend } from './wasm';
import { type BackendAttempt, tryWebGpu } from './webgpu';

/** A concrete tfjs backend the trainer can run on. */
export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

/** What `--backend` accepts: a backend, or `auto` (tensorflow → webgpu → wasm → cpu). */
export type BackendRequest = BackendName | 'auto';

/** The backend that is now active and why it was chosen. */
export interface BackendSelection {
  readonly name: BackendName;
  readonly reason: string;
}

/** Options of {@link selectBackend}. */
export interface SelectBackendOptions {
  /** Receives one line saying which backend was chosen and why; default: stderr (stdout may carry JSON). */
  readonly log?: (line: string) => void;
  /** Loads optional packages (tests replace it to simulate a missing one). */
  readonly importModule?: ModuleImporter;
}

/** The order `auto` tries. */
export const AUTO_ORDER: readonly BackendName[] = ['tensorflow', 'webgpu', 'wasm', 'cpu'];

const REQUESTS: readonly BackendRequest[] = ['auto', ...AUTO_ORDER];

async function attempt(
  name: BackendName,
  importModule: ModuleImporter,
  request: BackendRequest,
): Promise<BackendAttempt> {
  switch (name) {
    case 'tensorflow':
      return tryTensorflow(importModule);
    case 'webgpu':
      // auto never settles for a software adapter; asking for webgpu by name does
      return tryWebGpu(importModule, { allowSoftware: request === 'webgpu' });
    case 'wasm':
      try {
        await prepareWasmBackend();
        if (await tf.setBackend('wasm')) {
          const kernels = convKernelsFor(tf.backend()) === null ? 'stock' : convKernelVariant();
          return { ok: true, detail: `WebAssembly with SIMD, one thread, convolution kernels: ${kernels}` };
        }
        return { ok: false, reason: 'the wasm backend failed to initialise' };
      } catch (error) {
        return { ok: false, reason: `the wasm backend failed to load (${String(error)})` };
      }
    case 'cpu':
      if (await tf.setBackend('cpu')) return { ok: true, detail: 'plain JavaScript (slow)' };
      return { ok: false, reason: 'the cpu backend failed to initialise' };
  }
}

/**
 * A backend counts as working only once a small computation on it gives the right answer, read
 * back the way training reads (asynchronously): a driver that initialises but computes nothing
 * useful is skipped by `auto` instead of failing the first training step.
 */
async function smokeTest(name: BackendName, started: BackendAttempt): Promise<BackendAttempt> {
  try {
    const sum = tf.tidy(() => tf.sum(tf.matMul(tf.ones([3, 4]), tf.fill([4, 2], 0.5))));
    const value = (await sum.data())[0];
    sum.dispose();
    if (value === 12) return started;
    return { ok: false, reason: `${name} started but computed ${value} where 12 was expected` };
  } catch (error) {
    return { ok: false, reason: `${name} started but failed a first computation (${String(error)})` };
  }
}

/**
 * Activates a tfjs backend with the training kernels the trainer needs. `auto` tries
 * tensorflow → webgpu → wasm → cpu and takes the first that works; a named backend that cannot
 * start throws `AnchorageError` (code `UNSUPPORTED`) with the reason rather than silently
 * running elsewhere. Logs one line with the choice and the reasons the earlier ones were skipped.
 * @example
 * const { name, reason } = await selectBackend('auto'); // on a CPU-only machine: wasm
 */
export async function selectBackend(
  request: BackendRequest = 'auto',
  options: SelectBackendOptions = {},
): Promise<BackendSelection> {
  if (!REQUESTS.includes(request)) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `backend must be one of ${REQUESTS.join(', ')}, got "${request}"`,
      {
        argument: 'backend',
        value: request,
      },
    );
  }
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const importModule = options.importModule ?? importOptional;
  registerTrainingKernels();
  silenceCpuBanner();
  const candidates = request === 'auto' ? AUTO_ORDER : [request];
  const skipped: string[] = [];
  for (const name of candidates) {
    const started = await attempt(name, importModule, request);
    const result = started.ok ? await smokeTest(name, started) : started;
    if (result.ok) {
      const why =
        request === 'auto'
          ? `auto: ${[...skipped, `${name} works: ${result.detail}`].join('; ')}`
          : `requested: ${result.detail}`;
      const selection = { name, reason: why };
      log(`backend: ${name} (${why})`);
      return selection;
    }
    skipped.push(`${name} unavailable: ${result.reason}`);
  }
  throw new AnchorageError('UNSUPPORTED', `backend "${request}" is not available: ${skipped.join('; ')}`, {
    argument: 'backend',
    value: request,
  });
}
