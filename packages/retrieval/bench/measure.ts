/** Latency statistics in microseconds. */
export interface Latency {
  medianUs: number;
  p99Us: number;
}

/** Median and 99th percentile (nearest rank) of per-call times in nanoseconds. */
export function latency(nanoseconds: Float64Array): Latency {
  const sorted = Float64Array.from(nanoseconds).sort();
  const at = (p: number) =>
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1))]!;
  return { medianUs: at(0.5) / 1000, p99Us: at(0.99) / 1000 };
}

/**
 * Times `run(i)` once per query: wall-clock and process CPU nanoseconds per call. On a machine
 * shared with other work, wall time of a long call includes the time other processes held the
 * core; CPU time does not, so ratios between short and long calls are taken on CPU time.
 */
export function timeEach(count: number, run: (i: number) => void): { wall: Float64Array; cpu: Float64Array } {
  const wall = new Float64Array(count);
  const cpu = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const c0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    run(i);
    wall[i] = Number(process.hrtime.bigint() - t0);
    const c = process.cpuUsage(c0);
    cpu[i] = (c.user + c.system) * 1000;
  }
  return { wall, cpu };
}

/** Wall and process CPU seconds of one call. */
export function timeOnce<T>(run: () => T): { seconds: number; cpuSeconds: number; value: T } {
  const c0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const value = run();
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const c = process.cpuUsage(c0);
  return { seconds, cpuSeconds: (c.user + c.system) / 1e6, value };
}

/** Mean over queries of |found ∩ exact| / |exact| (recall@k against the exact top-k). */
export function recallAtK(
  found: readonly (readonly number[])[],
  exact: readonly (readonly number[])[],
): number {
  let sum = 0;
  for (let q = 0; q < exact.length; q++) {
    const truth = new Set(exact[q]);
    let hit = 0;
    for (const id of found[q]!) if (truth.has(id)) hit++;
    sum += truth.size === 0 ? 1 : hit / truth.size;
  }
  return exact.length === 0 ? 1 : sum / exact.length;
}

/**
 * What this machine gives `threads` threads right now: the same fixed spin loop run once on one
 * thread, then once on each of `threads` threads at the same time; returns the speed-up (ideal:
 * `threads`). Other processes on the cores lower it; a scaling figure means little above it.
 */
export async function parallelHeadroom(threads: number): Promise<number> {
  const { Worker } = await import('node:worker_threads');
  const spin = 'let x = 0; for (let i = 0; i < 2e8; i++) x += i % 7;';
  const run = new Function(spin);
  const t0 = performance.now();
  run();
  const one = performance.now() - t0;
  const t1 = performance.now();
  const workers = Array.from(
    { length: threads - 1 },
    () => new Worker(`${spin} require('node:worker_threads').parentPort.postMessage(x);`, { eval: true }),
  );
  const done = workers.map((w) => new Promise((resolve) => w.once('message', resolve)));
  run();
  await Promise.all(done);
  const all = performance.now() - t1;
  await Promise.all(workers.map((w) => w.terminate()));
  return (threads * one) / all;
}
