/**
 * Backbone benchmark: ResNet-18 (width 1 and the resnet18-cpu preset) on 32×32×3 at B=64 and the
 * default ViT at B=128, one training step (softmax cross-entropy head, Adam) through the trainer's
 * engines on wasm (one thread; two workers) next to the same networks in PyTorch on the CPU
 * (bench/torch_backbones.py; Debian's python3-torch) with 1 and 2 threads, all in this run.
 * Run alone: tsx bench/backbones.ts [--backbone-steps N] [--only resnet18-cpu,vit]; `pnpm bench`
 * runs it after the refcnn tables (skip with --no-backbones).
 */
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type BenchBackbone, timeBackboneSteps } from './backbone-step';
import type { StepShape, StepTiming } from './refcnn-step';

const shape = (batchSize: number): StepShape => ({
  height: 32,
  width: 32,
  channels: 3,
  batchSize,
  dim: 64,
  classes: 10,
});

/**
 * The rows: name, the trainer's backbone and options, PyTorch's arguments; `oneThreadBatch` where
 * one wasm instance cannot hold the batch (ResNet-18 at width 1 and B=64 needs more than the 4 GiB
 * a wasm32 heap can address: 1.5 GiB at B=32), so the one-thread row takes half of it.
 */
export const BENCH_BACKBONES: (BenchBackbone & { torch: string[]; oneThreadBatch?: number })[] = [
  {
    label: 'resnet18',
    backbone: 'resnet18',
    options: {},
    shape: shape(64),
    oneThreadBatch: 32,
    torch: ['--model', 'resnet18', '--width', '1'],
  },
  {
    label: 'resnet18-cpu',
    backbone: 'resnet18-cpu',
    options: {},
    shape: shape(64),
    torch: ['--model', 'resnet18', '--width', '0.25'],
  },
  {
    label: 'vit',
    backbone: 'vit',
    options: {},
    shape: shape(128),
    torch: [
      '--model',
      'vit',
      '--width',
      '64',
      '--depth',
      '4',
      '--heads',
      '4',
      '--mlp-ratio',
      '2',
      '--patch',
      '4',
      '--pooling',
      'mean',
    ],
  },
];

/** PyTorch's timing through the first interpreter that has torch: $PYTHON, python3, Debian's own. */
function torchTiming(
  b: (typeof BENCH_BACKBONES)[number],
  threads: number,
  warmup: number,
  steps: number,
): StepTiming | string {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'torch_backbones.py');
  for (const python of [process.env.PYTHON, 'python3', '/usr/bin/python3'].filter((p): p is string => !!p)) {
    try {
      execFileSync(python, ['-c', 'import torch'], { stdio: 'ignore' });
    } catch {
      continue;
    }
    const out = execFileSync(
      python,
      [
        script,
        ...b.torch,
        ...[
          '--threads',
          threads,
          '--batch',
          b.shape.batchSize,
          '--size',
          b.shape.height,
          '--channels',
          b.shape.channels,
        ],
        ...['--dim', b.shape.dim, '--classes', b.shape.classes, '--warmup', warmup, '--steps', steps],
      ].map(String),
      { encoding: 'utf8' },
    );
    return JSON.parse(out.trim().split('\n').pop()!) as StepTiming;
  }
  return 'no python3 with torch (apt install python3-torch)';
}

/** Measures every row and prints the table (markdown) with the ratio to PyTorch at the same threads. */
export async function benchBackbones(options: {
  warmup: number;
  steps: number;
  only?: readonly string[];
}): Promise<void> {
  const rows: string[][] = [];
  for (const b of BENCH_BACKBONES.filter(
    (r) => options.only === undefined || options.only.includes(r.label),
  )) {
    const torch = [1, 2].map((threads) => torchTiming(b, threads, options.warmup, options.steps));
    for (const threads of [1, 2]) {
      const batch = threads === 1 ? (b.oneThreadBatch ?? b.shape.batchSize) : b.shape.batchSize;
      const t = await timeBackboneSteps(
        { ...b, shape: { ...b.shape, batchSize: batch } },
        options.warmup,
        options.steps,
        threads,
      );
      const ref = torch[threads - 1]!;
      console.error(`${b.label} wasm × ${threads}: ${t.medianMs.toFixed(0)} ms/step`);
      rows.push([
        b.label,
        `B=${batch}`,
        threads === 1 ? 'tfjs wasm, 1 thread' : 'tfjs wasm, 2 workers',
        String(threads),
        t.medianMs.toFixed(0),
        t.imagesPerSecond.toFixed(0),
        typeof ref === 'string' ? '—' : (t.imagesPerSecond / ref.imagesPerSecond).toFixed(2),
        t.medianCpuMs === undefined ? '—' : t.medianCpuMs.toFixed(0),
        t.medianCpuMs === undefined || typeof ref === 'string' || ref.medianCpuMs === undefined
          ? '—'
          : (ref.medianCpuMs / t.medianCpuMs).toFixed(2),
      ]);
    }
    torch.forEach((ref, i) => {
      rows.push(
        typeof ref === 'string'
          ? [b.label, `B=${b.shape.batchSize}`, 'PyTorch CPU', String(i + 1), ref, '—', '—', '—', '—']
          : [
              b.label,
              `B=${b.shape.batchSize}`,
              'PyTorch CPU',
              String(i + 1),
              ref.medianMs.toFixed(0),
              ref.imagesPerSecond.toFixed(0),
              '1',
              i === 0 && ref.medianCpuMs !== undefined ? ref.medianCpuMs.toFixed(0) : '—',
              i === 0 ? '1' : '—',
            ],
      );
    });
  }
  const header = [
    'backbone',
    'batch',
    'engine',
    'threads',
    'median ms/step',
    'images/s',
    '× PyTorch (same threads)',
    'CPU ms/step (1 thread)',
    '× PyTorch by CPU time',
  ];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i]!)).join(' | ')} |`;
  console.log('');
  console.log(
    `backbone training step, 32×32×3, dim 64, 10-class softmax cross-entropy head, Adam; median of ${options.steps} steps after ${options.warmup} warm-up; ` +
      'CPU time = process user+system time per step on one thread (robust to other load on the machine)',
  );
  console.log(line(header));
  console.log(line(widths.map((w) => '-'.repeat(w))));
  for (const row of rows) console.log(line(row));
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  const at = (name: string) => args.indexOf(`--${name}`);
  const steps = at('backbone-steps') >= 0 ? Number(args[at('backbone-steps') + 1]) : 5;
  const only = at('only') >= 0 ? args[at('only') + 1]!.split(',') : undefined;
  await benchBackbones({ warmup: 1, steps, ...(only ? { only } : {}) });
}
