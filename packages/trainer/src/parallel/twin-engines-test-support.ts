import { selectBackend } from '../backends';
import { createLocalEngine } from '../train/local-engine';
import { createParallelEngine } from './parallel-engine';

type Engine<T extends (...args: never[]) => unknown> = Awaited<ReturnType<T>>;

/**
 * Runs `body` with a two-worker data-parallel engine and a one-thread wasm engine started from the
 * parallel engine's snapshot (same weights, loss variables and optimisers: only the data split
 * differs), and disposes both whatever happens.
 */
export async function withTwinEngines(
  options: Omit<Parameters<typeof createParallelEngine>[0], 'workers'>,
  body: (
    parallel: Engine<typeof createParallelEngine>,
    local: Engine<typeof createLocalEngine>,
  ) => Promise<void>,
): Promise<void> {
  const parallel = await createParallelEngine({ ...options, workers: 2 });
  try {
    await selectBackend('wasm', { log: () => {} });
    const local = await createLocalEngine({ ...options, snapshot: await parallel.snapshot() });
    try {
      await body(parallel, local);
    } finally {
      await local.dispose();
    }
  } finally {
    await parallel.dispose();
  }
}
