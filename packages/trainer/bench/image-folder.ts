/**
 * Image-folder benchmark: a generated folder of JPEGs (Fashion-MNIST resized to 96×96 and tinted
 * per class, written once into the OS temp folder and reused), opened at --image-size 64.
 * Prints: first-epoch decode throughput (the parallel decode into the on-disk cache, every core),
 * later epochs read from the cache, and a bounded training run in a fresh process: its peak RSS
 * and the share of step time spent waiting for data.
 * Usage: tsx --conditions=@anchorage/source bench/image-folder.ts [--count 100000] [--steps 20] [--size 64] [--generate-only]
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import {
  epochOrder,
  forEachConcurrent,
  isStreaming,
  iterateBatches,
  loadDataset,
  openSplit,
} from '../src/data/index';
import { Random } from '../src/random';
import { train } from '../src/train/train';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? Number(args[at + 1]) : fallback;
}
const count = flag('count', 100_000);
const steps = flag('steps', 20);
const size = flag('size', 64);
const folder = join(tmpdir(), `anchorage-bench-image-folder-${count}`);

const TINTS: [number, number, number][] = Array.from({ length: 10 }, (_, c) => [
  0.4 + (0.6 * ((c * 3) % 10)) / 9,
  0.4 + (0.6 * ((c * 7) % 10)) / 9,
  0.4 + (0.6 * ((c * 9) % 10)) / 9,
]);

/** Writes the folder once: <class>/<index>.jpg, Fashion-MNIST image index % 60000, 96×96 RGB. */
async function generate(): Promise<void> {
  const done = join(folder, '.complete');
  if (existsSync(done)) return;
  const fmnist = await loadDataset({ name: 'fashion-mnist', split: 'train' });
  for (let c = 0; c < 10; c++) await mkdir(join(folder, String(c)), { recursive: true });
  const started = performance.now();
  await forEachConcurrent(count, 8, async (i) => {
    const j = i % fmnist.labels.length;
    const label = fmnist.labels[j]!;
    const grey = fmnist.images.subarray(j * 784, (j + 1) * 784);
    const tint = TINTS[label]!;
    const rgb = new Uint8Array(784 * 3);
    for (let p = 0; p < 784; p++) for (let k = 0; k < 3; k++) rgb[3 * p + k] = grey[p]! * tint[k]!;
    const jpeg = await sharp(rgb, { raw: { width: 28, height: 28, channels: 3 } })
      .resize(96, 96)
      .jpeg({ quality: 85 })
      .toBuffer();
    await writeFile(join(folder, String(label), `${String(i).padStart(6, '0')}.jpg`), jpeg);
  });
  await writeFile(done, '');
  console.error(
    `generated ${count} JPEGs in ${((performance.now() - started) / 1000).toFixed(0)} s → ${folder}`,
  );
}

/** The bounded training run (a fresh process, so its peak RSS is its own). */
async function trainPhase(cacheDir: string, out: string): Promise<void> {
  process.env.ANCHORAGE_CACHE_DIR = cacheDir;
  const controller = new AbortController();
  const intervals: number[] = [];
  const stepMs: number[] = [];
  let last = 0;
  const stepStart: number[] = [];
  await train(
    {
      dataset: 'image-folder',
      data: folder,
      imageSize: size,
      epochs: 1,
      batchSize: 128,
      dim: 64,
      backend: 'wasm',
    },
    {
      out,
      quiet: true,
      signal: controller.signal,
      onStep: (event) => {
        const now = performance.now();
        if (last > 0) intervals.push(now - last);
        last = now;
        stepStart.push(now);
        if (event.step >= steps + 1) controller.abort();
      },
    },
  );
  const { readFile } = await import('node:fs/promises');
  for (const line of (await readFile(join(out, 'metrics.jsonl'), 'utf8')).split('\n')) {
    if (line.includes('"type":"step"')) stepMs.push(JSON.parse(line).stepMs);
  }
  // step 1 warms up; afterwards, what an interval holds beyond the engine's step is data and bookkeeping
  const measured = stepMs.slice(1, 1 + intervals.length);
  const total = intervals.reduce((a, b) => a + b, 0);
  const waiting = intervals.reduce((a, b, i) => a + Math.max(0, b - measured[i]!), 0);
  const maxRssMb = process.resourceUsage().maxRSS / 1024;
  console.log(
    JSON.stringify({
      steps: intervals.length,
      stepMsMedian: median(measured),
      dataShare: waiting / total,
      maxRssMb,
    }),
  );
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

if (args.includes('--phase-train')) {
  await trainPhase(args[args.indexOf('--phase-train') + 1]!, args[args.indexOf('--out') + 1]!);
  process.exit(0);
}

await generate();
if (args.includes('--generate-only')) process.exit(0);
const scratch = await mkdtemp(join(tmpdir(), 'anchorage-bench-cache-'));
const cacheDir = join(scratch, 'cache');
try {
  const rows: [string, string][] = [];
  // first epoch: decode every image of both splits into the cache (libuv's pool: every core)
  let started = performance.now();
  const trainSplit = await openSplit({
    name: 'image-folder',
    dir: folder,
    split: 'train',
    input: { imageSize: size },
    cacheDir,
  });
  const testSplit = await openSplit({
    name: 'image-folder',
    dir: folder,
    split: 'test',
    input: { imageSize: size },
    cacheDir,
  });
  const decodeSeconds = (performance.now() - started) / 1000;
  const decoded = trainSplit.labels.length + testSplit.labels.length;
  rows.push([
    `first epoch: decode ${decoded} JPEGs 96×96 → ${size}×${size}×3 into the cache`,
    `${(decoded / decodeSeconds).toFixed(0)} images/s (${decodeSeconds.toFixed(1)} s)`,
  ]);
  // later epochs: a shuffled pass over the cached training split, batches of 128 normalised to float32
  for (const pass of [1, 2]) {
    started = performance.now();
    let images = 0;
    for (const batch of iterateBatches(trainSplit, {
      batchSize: 128,
      order: epochOrder(trainSplit.labels.length, new Random(pass)),
    })) {
      images += batch.size;
    }
    const seconds = (performance.now() - started) / 1000;
    rows.push([
      `later epoch ${pass}: ${images} images from the cache, shuffled, as float32 batches`,
      `${(images / seconds).toFixed(0)} images/s (${seconds.toFixed(1)} s)`,
    ]);
  }
  // reopening finds the cache
  started = performance.now();
  const again = await openSplit({
    name: 'image-folder',
    dir: folder,
    split: 'train',
    input: { imageSize: size },
    cacheDir,
  });
  rows.push([
    'next run: reopen the training split (list, key, find the cache)',
    `${((performance.now() - started) / 1000).toFixed(1)} s`,
  ]);
  for (const s of [trainSplit, testSplit, again]) if (isStreaming(s)) s.close();

  const out = join(scratch, 'run');
  const child = spawnSync(
    process.execPath,
    [
      ...process.execArgv,
      process.argv[1]!,
      '--phase-train',
      cacheDir,
      '--out',
      out,
      '--steps',
      String(steps),
      '--size',
      String(size),
      '--count',
      String(count),
    ],
    {
      encoding: 'utf8',
    },
  );
  if (child.status !== 0) throw new Error(`training phase failed: ${child.stderr}`);
  const result = JSON.parse(child.stdout.trim().split('\n').at(-1)!);
  rows.push([
    `training, refcnn wasm B=128 at ${size}×${size}×3, ${result.steps} steps after a warm-up step: median step`,
    `${result.stepMsMedian.toFixed(0)} ms`,
  ]);
  rows.push([
    '  share of step time waiting for data (from the cache)',
    `${(100 * result.dataShare).toFixed(2)} %`,
  ]);
  rows.push(['  peak RSS of the training process', `${result.maxRssMb.toFixed(0)} MB`]);
  const width = Math.max(...rows.map((r) => r[0].length));
  console.log(`image folder: ${count} JPEGs in ${folder}`);
  for (const [what, value] of rows) console.log(`${what.padEnd(width)}  ${value}`);
} finally {
  await rm(scratch, { recursive: true, force: true });
}
