/**
 * The main job (`pnpm start`): trains a CAM model on a real dataset, exports the model bundle,
 * evaluates it (exhaustive against two-stage search), indexes the training images with a
 * thumbnail each, and serves the API and the demo page. Every step's result is kept in a folder
 * keyed by the configuration, so a second start reuses them and serves within seconds.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { Random } from '@anchorage/loss-core';
import { type RunningServer, resolveConfig, startServer } from '@anchorage/server';
import { createBundleEmbedder, loadDataset, readBundle } from '@anchorage/trainer';
import { Command, InvalidArgumentError, Option } from 'commander';
import { ChildFailedError, interruptChild, runCli } from './children.js';
import { type Evaluation, evaluateEmbeddings, formatEvaluation } from './evaluate.js';
import { encodePng, mapConcurrent, thumbnailUrl } from './thumbnails.js';

interface StartOptions {
  dataset: string;
  data?: string;
  backbone: string;
  loss: string;
  epochs: number;
  dim: number;
  seed: number;
  workers: number;
  limit?: number;
  queries: number;
  indexLimit?: number;
  port: number;
  host: string;
  workDir: string;
  quick: boolean;
  serve: boolean;
}

const QUICK = { epochs: 1, limit: 2000, queries: 200, indexLimit: 2000, workers: 1 } as const;
const SAMPLE_COUNT = 12;
const INGEST_BATCH = 2000;

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError('must be an integer ≥ 1');
  return n;
}

function port(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError('must be 0..65535');
  return n;
}

const splits = new Map<string, ReturnType<typeof loadDataset>>();
/** One split, read once per process. */
function split(o: StartOptions, which: 'train' | 'test'): ReturnType<typeof loadDataset> {
  const key = `${o.dataset}:${o.data ?? ''}:${which}`;
  if (!splits.has(key)) splits.set(key, loadDataset({ name: o.dataset, dir: o.data, split: which }));
  return splits.get(key)!;
}

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** The folder that holds this configuration's run, bundle, items and evaluation. */
function runFolder(o: StartOptions): string {
  const key = {
    dataset: o.dataset,
    data: o.data === undefined ? null : resolve(o.data),
    backbone: o.backbone,
    loss: o.loss,
    epochs: o.epochs,
    dim: o.dim,
    seed: o.seed,
    limit: o.limit ?? null,
  };
  const hash = createHash('sha256').update(JSON.stringify(key)).digest('hex').slice(0, 10);
  return resolve(o.workDir, `${o.dataset}-${o.backbone}-${o.loss}-${o.epochs}ep-${hash}`);
}

async function train(o: StartOptions, folder: string): Promise<void> {
  const run = join(folder, 'run');
  const marker = join(folder, 'trained.json');
  if (existsSync(marker)) {
    say(`✓ model: reusing ${relative(process.cwd(), run)}`);
    return;
  }
  const resume = existsSync(join(run, 'checkpoint'));
  say(`▶ training ${o.backbone} with the ${o.loss} loss on ${o.dataset}${resume ? ' (resuming)' : ''}`);
  // a resumed run keeps the configuration in its checkpoint; the same flags are given again
  const args = [
    'train',
    '--dataset',
    o.dataset,
    ...(o.data ? ['--data', o.data] : []),
    '--backbone',
    o.backbone,
    '--loss',
    o.loss,
    '--epochs',
    String(o.epochs),
    '--dim',
    String(o.dim),
    '--seed',
    String(o.seed),
    '--workers',
    String(o.workers),
    ...(o.limit ? ['--limit', String(o.limit)] : []),
    '--out',
    run,
    ...(resume ? ['--resume'] : []),
  ];
  await runCli('@anchorage/trainer', args);
  await writeFile(marker, `${JSON.stringify({ finishedAt: new Date().toISOString() })}\n`);
}

async function exportBundle(folder: string): Promise<string> {
  const bundle = join(folder, 'bundle');
  if (existsSync(join(bundle, 'manifest.json')) && existsSync(join(bundle, 'model.onnx'))) return bundle;
  say('▶ exporting the model bundle (manifest.json, anchors.json, model.onnx)');
  await runCli('@anchorage/trainer', ['export', '--checkpoint', join(folder, 'run'), '--out', bundle]);
  return bundle;
}

/** Seeded choice of `count` distinct indices of [0, n), ascending. */
function choose(n: number, count: number, seed: number): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  const rng = new Random(seed);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  for (let i = 0; i < count; i++) {
    const j = i + rng.nextInt(n - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order.subarray(0, count).sort();
}

interface Prepared {
  evaluation: Evaluation;
  /** Database items still to be written to the server (absent when the store already holds them). */
  database?: { embeddings: Float32Array; count: number };
}

async function embedAndEvaluate(o: StartOptions, folder: string, bundleDir: string): Promise<Prepared> {
  const evalPath = join(folder, 'evaluation.json');
  const [trainSplit, testSplit] = await Promise.all([split(o, 'train'), split(o, 'test')]);
  const count = Math.min(o.indexLimit ?? trainSplit.labels.length, trainSplit.labels.length);
  const bundle = await readBundle(bundleDir);
  const dim = bundle.manifest.dim;
  const layout = { height: trainSplit.height, width: trainSplit.width, channels: trainSplit.channels };
  const size = layout.height * layout.width * layout.channels;

  say(`▶ embedding ${count.toLocaleString('en')} training images with model.onnx (onnxruntime)`);
  const embedder = await createBundleEmbedder(bundleDir);
  let database: Float32Array;
  let queries: Float32Array;
  const queryIndex = choose(testSplit.labels.length, o.queries, o.seed);
  try {
    database = await embedder.embed(trainSplit.images.subarray(0, count * size), count);
    const queryImages = new Uint8Array(queryIndex.length * size);
    queryIndex.forEach((q, i) => {
      queryImages.set(testSplit.images.subarray(q * size, (q + 1) * size), i * size);
    });
    queries = await embedder.embed(queryImages, queryIndex.length);
  } finally {
    await embedder.release();
  }

  let evaluation: Evaluation;
  if (existsSync(evalPath)) {
    evaluation = JSON.parse(await readFile(evalPath, 'utf8')) as Evaluation;
  } else {
    say(`▶ evaluating: ${queryIndex.length.toLocaleString('en')} test queries against the training images`);
    evaluation = evaluateEmbeddings({
      database,
      databaseLabels: trainSplit.labels.slice(0, count),
      queries,
      queryLabels: Int32Array.from(queryIndex, (q) => testSplit.labels[q]!),
      anchors: bundle.anchors,
      dim,
    });
    await writeFile(evalPath, `${JSON.stringify(evaluation, null, 2)}\n`);
  }

  return { evaluation, database: { embeddings: database, count } };
}

/** A few test images (never in the database) become the demo page's sample queries. */
async function writeSamples(o: StartOptions, folder: string): Promise<string> {
  const samples = join(folder, 'samples');
  await mkdir(samples, { recursive: true });
  const testSplit = await split(o, 'test');
  const layout = { height: testSplit.height, width: testSplit.width, channels: testSplit.channels };
  for (const q of choose(testSplit.labels.length, o.queries, o.seed).subarray(0, SAMPLE_COUNT)) {
    const name = join(
      samples,
      `test-${q}-${testSplit.classes[testSplit.labels[q]!]!.replace(/\W+/g, '_')}.png`,
    );
    if (!existsSync(name)) await writeFile(name, await encodePng(testSplit.images, q, layout));
  }
  return samples;
}

async function api(server: RunningServer, path: string, key: string, body?: unknown): Promise<unknown> {
  const response = await fetch(`http://${server.host}:${server.port}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const json = (await response.json()) as unknown;
  if (!response.ok) throw new Error(`${path} answered ${response.status}: ${JSON.stringify(json)}`);
  return json;
}

async function ingest(
  o: StartOptions,
  server: RunningServer,
  key: string,
  database: { embeddings: Float32Array; count: number },
  dim: number,
): Promise<void> {
  const trainSplit = await split(o, 'train');
  const layout = { height: trainSplit.height, width: trainSplit.width, channels: trainSplit.channels };
  say(`▶ indexing ${database.count.toLocaleString('en')} training images with a thumbnail each`);
  for (let start = 0; start < database.count; start += INGEST_BATCH) {
    const end = Math.min(start + INGEST_BATCH, database.count);
    const thumbnails = await mapConcurrent(start, end, 16, (i) => thumbnailUrl(trainSplit.images, i, layout));
    const items = thumbnails.map((thumbnail, j) => {
      const i = start + j;
      const label = trainSplit.labels[i]!;
      return {
        id: `train-${i}`,
        vector: Array.from(database.embeddings.subarray(i * dim, (i + 1) * dim)),
        label,
        metadata: { thumbnail, class: trainSplit.classes[label], split: 'train', index: i },
      };
    });
    await api(server, '/v1/items', key, { items });
  }
}

async function itemCount(server: RunningServer, key: string): Promise<number> {
  const stats = (await api(server, '/v1/stats', key)) as { items: number };
  return stats.items;
}

async function main(o: StartOptions): Promise<void> {
  const folder = runFolder(o);
  await mkdir(folder, { recursive: true });
  await train(o, folder);
  const bundleDir = await exportBundle(folder);

  const keyPath = join(folder, 'api-key');
  if (!existsSync(keyPath))
    await writeFile(keyPath, `${randomBytes(24).toString('base64url')}\n`, { mode: 0o600 });
  const key = (await readFile(keyPath, 'utf8')).trim();
  const dbPath = join(folder, 'items.db');
  const evalPath = join(folder, 'evaluation.json');
  const server = await startServer(
    resolveConfig({
      bundle: bundleDir,
      db: dbPath,
      port: o.serve ? o.port : 0,
      host: o.host,
      apiKeys: [key],
      logLevel: 'warn',
      demoSamples: await writeSamples(o, folder),
    }),
  );
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await server.close();
    process.exit(code);
  };
  onStop = () => void stop(0);

  try {
    const manifest = (await readBundle(bundleDir)).manifest;
    const expected = Math.min(o.indexLimit ?? Number.POSITIVE_INFINITY, await trainingSize(o));
    let evaluation: Evaluation;
    if (existsSync(evalPath) && (await itemCount(server, key)) >= expected) {
      evaluation = JSON.parse(await readFile(evalPath, 'utf8')) as Evaluation;
      say(`✓ index: ${expected.toLocaleString('en')} items already in ${relative(process.cwd(), dbPath)}`);
    } else {
      const prepared = await embedAndEvaluate(o, folder, bundleDir);
      evaluation = prepared.evaluation;
      if (prepared.database) await ingest(o, server, key, prepared.database, manifest.dim);
    }
    say('');
    say(formatEvaluation(evaluation, o.dataset));
    say('');
    if (!o.serve) return await stop(0);
    const url = `http://${o.host}:${server.port}/`;
    const sample = join(folder, 'samples');
    say(`anchorage is serving ${o.dataset} at ${url}  (demo page; API reference at ${url}docs)`);
    say(
      `  try: curl -s -F image=@"$(ls ${relative(process.cwd(), sample)}/*.png | head -1)" -F k=5 ${url}v1/search`,
    );
    say('  Ctrl-C stops the server.');
  } catch (error) {
    await server.close();
    throw error;
  }
}

async function trainingSize(o: StartOptions): Promise<number> {
  return (await split(o, 'train')).labels.length;
}

const program = new Command('pnpm start')
  .description(
    'train a CAM model, export it, evaluate exhaustive and two-stage search, index the training images and serve the API with its demo page',
  )
  .addOption(new Option('--dataset <name>', 'dataset: mnist | fashion-mnist').default('mnist'))
  .option('--data <dir>', "dataset folder (default: the dataset's default folder)")
  .option('--backbone <name>', 'backbone', 'refcnn')
  .option('--loss <name>', 'loss', 'cam')
  .option('--epochs <n>', 'training epochs', positiveInt, 2)
  .option('--dim <d>', 'embedding size', positiveInt, 64)
  .option('--seed <n>', 'seed of everything random', positiveInt, 1)
  .option('--workers <n>', 'data-parallel training threads', positiveInt, 2)
  .option('--limit <n>', 'train on a seeded subset of n images', positiveInt)
  .option('--queries <n>', 'test images used as evaluation queries', positiveInt, 1000)
  .option('--index-limit <n>', 'index only the first n training images (default: all)', positiveInt)
  .option('--port <n>', 'port of the server (0 picks a free one)', port, 8787)
  .option('--host <address>', 'address to bind', '127.0.0.1')
  .option('--work-dir <dir>', 'where runs, bundles and items are kept', '.anchorage')
  .option('--quick', 'a slice and one epoch: a smoke run in about a minute', false)
  .option('--no-serve', 'stop after printing the evaluation')
  .action(async (raw: StartOptions, command: Command) => {
    // --quick sets a slice and one epoch, but a flag given explicitly still wins
    const quick = Object.fromEntries(
      Object.entries(QUICK).filter(([name]) => command.getOptionValueSource(name) !== 'cli'),
    );
    const o: StartOptions = raw.quick ? { ...raw, ...quick } : raw;
    try {
      await main(o);
    } catch (error) {
      if (error instanceof ChildFailedError && error.signal === 'SIGINT') {
        say('interrupted: run the same command again to resume');
        process.exit(130);
      }
      process.stderr.write(`pnpm start: ${(error as Error).message}\n`);
      process.exit(1);
    }
  });

/** What Ctrl-C does now: stop the server once it runs; before that, let a child stop cleanly. */
let onStop: (() => void) | undefined;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (onStop) onStop();
    else if (!interruptChild(signal)) process.exit(130);
  });
}

await program.parseAsync(process.argv.filter((a, i) => !(i >= 2 && a === '--')));
