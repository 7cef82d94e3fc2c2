/**
 * loss-core benchmark: forward + backward of the CAM loss, median µs over many runs and bytes
 * allocated per call after warm-up, against PyTorch CPU autograd of the same formula (float32,
 * same shapes, one thread each) when python3 with torch is available.
 *
 * Run: pnpm --filter @anchorage/loss-core bench   (optionally RUNS=N to change the run count)
 */
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CamLoss, camLoss, initAnchors, Random } from '../src/index';

const here = dirname(fileURLToPath(import.meta.url));
const shapes = [
  { batch: 256, dim: 128, classes: 100, runs: Number(process.env.RUNS ?? 200) },
  {
    batch: 1024,
    dim: 512,
    classes: 1000,
    runs: Math.max(5, Math.round(Number(process.env.RUNS ?? 200) / 10)),
  },
];

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

type Regime = 'close' | 'spread';

function makeInput(batch: number, dim: number, classes: number, regime: Regime) {
  const rng = new Random(1);
  const embeddings = new Float32Array(batch * dim).map(() => rng.normal());
  const anchors =
    regime === 'close'
      ? // every pair inside 2m: the worst case for the repeller's gradient
        new Float32Array(classes * dim).map(() => (rng.normal() * 0.6) / Math.sqrt(dim))
      : // random directions at radius 1.01·√2m: nearly orthogonal, pairs just outside 2m
        initAnchors(classes, dim, { strategy: 'random', seed: 1 });
  const labels = new Int32Array(batch).map(() => rng.nextInt(classes));
  return { embeddings, labels, anchors };
}

function time(fn: () => void, runs: number): number {
  for (let i = 0; i < 3; i++) fn();
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = process.hrtime.bigint();
    fn();
    times.push(Number(process.hrtime.bigint() - t) / 1e3);
  }
  return median(times);
}

/** Bytes allocated per call (JS heap + ArrayBuffers), measured between forced collections. */
function bytesPerCall(fn: () => void, calls: number): number | undefined {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) return undefined;
  for (let i = 0; i < 5; i++) fn();
  gc();
  const before = process.memoryUsage();
  for (let i = 0; i < calls; i++) fn();
  const after = process.memoryUsage();
  const delta = after.heapUsed - before.heapUsed + (after.arrayBuffers - before.arrayBuffers);
  return Math.max(0, delta / calls);
}

function torchTimes(): Map<string, { us: number; variant: string }> | string {
  // one key per shape and regime: "BxDxC/regime"
  const args = [join(here, 'torch_cam.py'), '1', String(shapes[1]!.runs)];
  for (const s of shapes) args.push(String(s.batch), String(s.dim), String(s.classes));
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import torch'], { encoding: 'utf8' });
  if (probe.status !== 0) return `PyTorch not importable by ${python} (install Debian's python3-torch)`;
  const out = spawnSync(python, args, { encoding: 'utf8', env: { ...process.env, OMP_NUM_THREADS: '1' } });
  if (out.status !== 0) return `PyTorch script failed: ${out.stderr.trim().split('\n').pop()}`;
  const map = new Map<string, { us: number; variant: string }>();
  for (const line of out.stdout.trim().split('\n')) {
    const r = JSON.parse(line) as { shape: number[]; regime: Regime; median_us: number; variant: string };
    map.set(`${r.shape.join('x')}/${r.regime}`, { us: r.median_us, variant: r.variant });
  }
  return map;
}

const torch = torchTimes();
const rows: Record<string, string | number>[] = [];
for (const [{ batch, dim, classes, runs }, regime] of shapes.flatMap((s) =>
  (['close', 'spread'] as const).map((r) => [s, r] as const),
)) {
  const input = makeInput(batch, dim, classes, regime);
  const cam = new CamLoss({ dim, classes });
  const reusable = () => void cam.compute(input);
  const fresh = () => void camLoss({ ...input, dim });
  const usReusable = time(reusable, runs);
  const usFresh = time(fresh, runs);
  const bytes = bytesPerCall(reusable, Math.min(runs, 50));
  const key = `${batch}x${dim}x${classes}/${regime}`;
  const t = typeof torch === 'string' ? undefined : torch.get(key);
  rows.push({
    'B×d×C': `${batch}×${dim}×${classes}`,
    anchors: regime === 'close' ? 'all pairs < 2m' : 'spread (≈ 2m)',
    runs,
    'CamLoss.compute µs (median)': Math.round(usReusable),
    'camLoss() µs (median)': Math.round(usFresh),
    'bytes/call after warm-up': bytes === undefined ? 'run with --expose-gc' : Math.round(bytes),
    'PyTorch µs (median)': t ? `${Math.round(t.us)} (${t.variant})` : 'n/a',
    'ours / PyTorch': t ? (usReusable / t.us).toFixed(3) : 'n/a',
    target: '≤ 1.0',
  });
}
console.log(`node ${process.version}, one thread each${typeof torch === 'string' ? `; ${torch}` : ''}`);
console.table(rows);
