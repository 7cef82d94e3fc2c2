/**
 * Trainer benchmark: refcnn training images/s (28×28×1, B=128, Adam, softmax cross-entropy head)
 * on tfjs-wasm (one thread), tfjs-cpu, and PyTorch on the CPU (Debian's python3-torch) with 1 and 2
 * threads, all measured in this run; then one row per registered loss (the trainer's engines, wasm,
 * one thread and two workers) with its ratio to CAM's step.
 * Then the backbones (bench/backbones.ts: ResNet-18, the ViT) against PyTorch.
 * Usage: pnpm bench [--steps N] [--cpu-steps N] [--no-cpu] [--no-torch] [--no-losses]
 *   [--no-backbones] [--backbone-steps N]
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/backends/index';
import { listLosses } from '../src/losses/index';
import { timeCamSteps, timeLossSteps } from './parallel-step';
import { type StepShape, type StepTiming, timeRefCnnSteps } from './refcnn-step';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}

const shape: StepShape = { height: 28, width: 28, channels: 1, batchSize: 128, dim: 64, classes: 10 };
const warmup = flag('warmup', 3);
const steps = flag('steps', 20);
// the cpu backend takes seconds per step even with the forward-conv gradients: cap it
const cpuSteps = flag('cpu-steps', 2);

interface Row {
  readonly name: string;
  readonly threads: number;
  readonly timing?: StepTiming;
  readonly note?: string;
}

/** PyTorch through the first interpreter that has it: $PYTHON, python3, then Debian's own. */
function torchTiming(threads: number): StepTiming | string {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch_refcnn.py');
  const candidates = [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p);
  for (const python of candidates) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    } catch {
      continue;
    }
    const out = execFileSync(
      python,
      [
        script,
        ...['--threads', threads, '--batch', shape.batchSize, '--dim', shape.dim, '--classes', shape.classes],
        ...['--height', shape.height, '--width', shape.width, '--channels', shape.channels],
        ...['--warmup', warmup, '--steps', steps],
      ].map(String),
      { encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as StepTiming;
  }
  return 'no python3 with torch (apt install python3-torch)';
}

/**
 * wasm on both cores: src/parallel's data-parallel engine (2 worker threads, CAM loss), next to
 * the same engine on one thread so the speed-up is read from one pair of rows.
 */
const camTimings: StepTiming[] = [];
async function wasmBothCores(): Promise<StepTiming | undefined> {
  const one = await timeCamSteps(shape, warmup, steps, 1);
  camTimings.push(one);
  rows.push({ name: 'tfjs wasm, CAM loss, 1 thread (src/train engine)', threads: 1, timing: one });
  console.error(`wasm CAM 1 thread: ${one.medianMs.toFixed(1)} ms/step`);
  const two = await timeCamSteps(shape, warmup, steps, 2);
  console.error(`wasm CAM 2 workers: ${two.medianMs.toFixed(1)} ms/step`);
  camTimings.push(two);
  return two;
}

const rows: Row[] = [];
const log = (line: string) => console.error(line);

await selectBackend('wasm', { log });
rows.push({ name: 'tfjs wasm', threads: 1, timing: await timeRefCnnSteps(shape, warmup, steps) });
console.error(`wasm: ${rows.at(-1)!.timing!.medianMs.toFixed(1)} ms/step`);

const parallel = await wasmBothCores();
rows.push(
  parallel === undefined
    ? { name: 'tfjs wasm, both cores (worker_threads)', threads: 2, note: 'not measured yet (src/parallel)' }
    : { name: 'tfjs wasm, CAM loss, both cores (2 worker_threads)', threads: 2, timing: parallel },
);

if (!args.includes('--no-cpu')) {
  await selectBackend('cpu', { log });
  rows.push({ name: 'tfjs cpu', threads: 1, timing: await timeRefCnnSteps(shape, 1, cpuSteps) });
  console.error(`cpu: ${rows.at(-1)!.timing!.medianMs.toFixed(1)} ms/step`);
}

const torch = new Map<number, StepTiming>();
if (!args.includes('--no-torch')) {
  for (const threads of [1, 2]) {
    const result = torchTiming(threads);
    if (typeof result === 'string') {
      rows.push({ name: 'PyTorch CPU', threads, note: result });
      break;
    }
    torch.set(threads, result);
    rows.push({ name: `PyTorch CPU`, threads, timing: result });
  }
}

const header = [
  'backend',
  'threads',
  'steps',
  'median ms/step',
  'images/s',
  '× PyTorch (same threads)',
  'median CPU ms/step',
  '× PyTorch by CPU time',
];
const table = rows.map((row) => {
  const t = row.timing;
  const reference = torch.get(row.threads);
  return [
    row.name,
    String(row.threads),
    t ? String(t.stepsMs.length) : '—',
    t ? t.medianMs.toFixed(1) : (row.note ?? '—'),
    t ? t.imagesPerSecond.toFixed(0) : '—',
    t && reference ? (t.imagesPerSecond / reference.imagesPerSecond).toFixed(2) : '—',
    t?.medianCpuMs !== undefined ? t.medianCpuMs.toFixed(1) : '—',
    t?.medianCpuMs !== undefined && reference?.medianCpuMs !== undefined
      ? (reference.medianCpuMs / t.medianCpuMs).toFixed(2)
      : '—',
  ];
});
const widths = header.map((h, i) => Math.max(h.length, ...table.map((r) => r[i]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
console.log(
  `refcnn training step, ${shape.height}×${shape.width}×${shape.channels}, B=${shape.batchSize}, dim ${shape.dim}, ` +
    `${shape.classes}-class softmax cross-entropy head, Adam; median over steps after ${warmup} warm-up steps ` +
    `(cpu: 1 warm-up, ${cpuSteps} steps); tfjs ${tf.version.tfjs}, Node ${process.versions.node}; ` +
    'CPU time = process user+system time per step, all threads (robust to other load on the machine)',
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of table) console.log(line(row));

if (!args.includes('--no-losses')) {
  // One row per loss: the same engines and batches as CAM's rows above, only the loss differs.
  const lossRows: string[][] = [];
  for (const loss of listLosses()) {
    const timings =
      loss === 'cam' && camTimings.length === 2
        ? camTimings
        : [
            await timeLossSteps(shape, warmup, steps, 1, loss),
            await timeLossSteps(shape, warmup, steps, 2, loss),
          ];
    console.error(
      `wasm ${loss}: ${timings.map((t) => t.medianMs.toFixed(1)).join(' / ')} ms/step (1 thread / 2 workers)`,
    );
    lossRows.push([
      loss,
      timings[0]!.medianMs.toFixed(1),
      (timings[0]!.medianMs / camTimings[0]!.medianMs).toFixed(2),
      timings[1]!.medianMs.toFixed(1),
      (timings[1]!.medianMs / camTimings[1]!.medianMs).toFixed(2),
    ]);
  }
  const lossHeader = ['loss', '1 thread ms/step', '× CAM', '2 workers ms/step', '× CAM'];
  const lossWidths = lossHeader.map((h, i) => Math.max(h.length, ...lossRows.map((r) => r[i]!.length)));
  const lossLine = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(lossWidths[i]!)).join(' | ')} |`;
  console.log('');
  console.log(
    `per loss: refcnn B=${shape.batchSize}, dim ${shape.dim}, wasm, the trainer's engines, median ms/step`,
  );
  console.log(lossLine(lossHeader));
  console.log(lossLine(lossWidths.map((w) => '-'.repeat(w))));
  for (const row of lossRows) console.log(lossLine(row));
}

if (!args.includes('--no-backbones')) {
  const { benchBackbones } = await import('./backbones');
  await benchBackbones({ warmup: 1, steps: flag('backbone-steps', 5) });
}
