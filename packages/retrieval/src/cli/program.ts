import { stat } from 'node:fs/promises';
import { AnchorageError, Random } from '@anchorage/loss-core';
import { SingleBar } from 'cli-progress';
import { Command, InvalidArgumentError, Option } from 'commander';
import { AnchorIndex } from '../anchor/index.js';
import { FlatIndex } from '../flat/index.js';
import { loadIndex } from '../load-index.js';
import { evaluateAnchorIndex, evaluateRetrieval, type RetrievalMetrics } from '../metrics/index.js';
import type { ItemId, SearchResult } from '../types.js';
import { parseVector, readAnchors, readIds, readLabels, readVectors } from './inputs.js';
import { quickBench, syntheticClusters } from './quick-bench.js';

const BUILD_CHUNK = 8192;

function integer(name: string, min = 1) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min)
      throw new InvalidArgumentError(`${name} must be an integer ≥ ${min}`);
    return n;
  };
}

function progress(
  enabled: boolean,
  total: number,
  label: string,
): { tick: (n: number) => void; stop: () => void } {
  if (!enabled || !process.stderr.isTTY) return { tick: () => undefined, stop: () => undefined };
  const bar = new SingleBar({
    format: `${label} [{bar}] {percentage}% | {value}/{total} | eta {eta}s`,
    stream: process.stderr,
  });
  bar.start(total, 0);
  return { tick: (n) => bar.increment(n), stop: () => bar.stop() };
}

function print(json: boolean, value: unknown, text: string): void {
  process.stdout.write(json ? `${JSON.stringify(value, null, 2)}\n` : `${text}\n`);
}

/**
 * Resident memory, after a collection when node runs with --expose-gc. Resident size, not heap
 * statistics: WebAssembly memories (where the vectors live) are outside V8's heap counters.
 */
function residentBytes(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

function gcNote(): string {
  return typeof (globalThis as { gc?: unknown }).gc === 'function'
    ? ''
    : ' (run node with --expose-gc for a settled figure)';
}

function formatHits(result: SearchResult): string {
  return result.hits
    .map(
      (h, i) =>
        `${i + 1}\t${JSON.stringify(h.id)}\t${h.distance.toPrecision(6)}\tlabel=${h.label ?? '-'}\tbucket=${h.bucket}`,
    )
    .join('\n');
}

/** Builds the `anchorage-index` command tree (exported for embedding in a front-door CLI). */
export function createProgram(): Command {
  const program = new Command('anchorage-index')
    .description('Build, query and measure anchorage two-stage retrieval index files')
    .showHelpAfterError();

  program
    .command('build')
    .description('build an index file from a vectors file')
    .requiredOption(
      '--vectors <file>',
      'vectors: .npy float32 [n, d], .jsonl ({"id","vector","label"} per line) or raw float32 (.f32, needs --dim)',
    )
    .requiredOption('-o, --out <file>', 'index file to write')
    .option('--anchors <path>', 'model bundle folder, anchors.json or .npy [C, d]: builds an AnchorIndex')
    .option('--flat', 'build an exhaustive FlatIndex (no anchors)')
    .option('--labels <file>', 'labels: .npy, .json array or one integer per line')
    .option('--ids <file>', 'ids, one per line (default: row numbers)')
    .option('--dim <d>', 'embedding size (raw float32 input)', integer('dim'))
    .option('--json', 'print a JSON summary')
    .action(async (options) => {
      if (!options.anchors === !options.flat)
        throw new InvalidArgumentError('give exactly one of --anchors or --flat');
      const input = await readVectors(options.vectors, options.dim);
      const n = input.vectors.length / input.dim;
      const labels = options.labels ? await readLabels(options.labels) : input.labels;
      const ids: ItemId[] = options.ids
        ? await readIds(options.ids)
        : (input.ids ?? Array.from({ length: n }, (_, i) => i));
      if (ids.length !== n)
        throw new AnchorageError('DIMENSION_MISMATCH', `${ids.length} ids for ${n} vectors`, {
          argument: 'ids',
        });
      if (labels !== undefined && labels.length !== n) {
        throw new AnchorageError('DIMENSION_MISMATCH', `${labels.length} labels for ${n} vectors`, {
          argument: 'labels',
        });
      }
      let index: FlatIndex | AnchorIndex;
      if (options.anchors) {
        const { dim, anchors } = await readAnchors(options.anchors);
        if (dim !== input.dim) {
          throw new AnchorageError(
            'DIMENSION_MISMATCH',
            `anchors have d = ${dim}, vectors d = ${input.dim}`,
            { argument: 'anchors' },
          );
        }
        index = new AnchorIndex({ dim, anchors });
      } else {
        index = new FlatIndex({ dim: input.dim });
      }
      const bar = progress(!options.json, n, 'adding');
      // Whole batches are validated before they are stored, so a bad row stops the build cleanly.
      for (let start = 0; start < n; start += BUILD_CHUNK) {
        const end = Math.min(n, start + BUILD_CHUNK);
        index.add({
          ids: ids.slice(start, end),
          vectors: input.vectors.subarray(start * input.dim, end * input.dim),
          labels: labels?.slice(start, end),
        });
        bar.tick(end - start);
      }
      bar.stop();
      await index.save(options.out);
      const bytes = (await stat(options.out)).size;
      const summary = {
        out: options.out,
        kind: index instanceof AnchorIndex ? 'anchor' : 'flat',
        dim: index.dim,
        size: index.size,
        classes: index instanceof AnchorIndex ? index.classes : 0,
        fileBytes: bytes,
      };
      print(
        options.json,
        summary,
        `wrote ${summary.kind} index ${options.out}: ${index.size} items, d = ${index.dim}, ${bytes} bytes`,
      );
    });

  program
    .command('query')
    .description('search an index file')
    .requiredOption('--index <file>', 'index file')
    .option('--vector <numbers>', 'one query as comma-separated numbers')
    .option('--queries <file>', 'queries file (.npy, .jsonl or raw float32)')
    .option('-k, --k <k>', 'results per query', integer('k'), 10)
    .option('--probe <p>', 'buckets ranked exactly (AnchorIndex)', integer('probe'), 1)
    .option('--full-ranking', 'append the other buckets after the probed ones')
    .addOption(
      new Option(
        '--compression <kind>',
        'AnchorIndex stage 2: none (float32) or int8 (codes scanned, best candidates re-ranked exactly)',
      )
        .choices(['none', 'int8'])
        .default('none'),
    )
    .option(
      '--rerank <n>',
      'with --compression int8: candidates re-ranked exactly (default max(4k, 40))',
      integer('rerank'),
    )
    .option('--json', 'print JSON')
    .action(async (options) => {
      if (!options.vector === !options.queries)
        throw new InvalidArgumentError('give exactly one of --vector or --queries');
      const index = await loadIndex(options.index, { compression: options.compression });
      const queries = options.vector
        ? parseVector(options.vector)
        : (await readVectors(options.queries, index.dim)).vectors;
      const results = index.searchBatch(queries, {
        k: options.k,
        probe: options.probe,
        fullRanking: options.fullRanking,
        ...(options.rerank === undefined ? {} : { rerank: options.rerank }),
      });
      print(
        options.json,
        options.vector ? results[0] : results,
        results.map((r, q) => `# query ${q}: scanned ${r.scanned}\n${formatHits(r)}`).join('\n'),
      );
    });

  program
    .command('stats')
    .description('describe an index file')
    .requiredOption('--index <file>', 'index file')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const index = await loadIndex(options.index);
      const fileBytes = (await stat(options.index)).size;
      const sizes = index instanceof AnchorIndex ? Array.from(index.bucketSizes) : [index.size];
      const labelled = [...index.items()].filter((item) => item.label !== undefined).length;
      const stats = {
        kind: index instanceof AnchorIndex ? 'anchor' : 'flat',
        dim: index.dim,
        size: index.size,
        labelled,
        classes: index instanceof AnchorIndex ? index.classes : 0,
        buckets: {
          min: Math.min(...sizes),
          max: Math.max(...sizes),
          mean: sizes.reduce((a, b) => a + b, 0) / sizes.length,
          empty: sizes.filter((s) => s === 0).length,
        },
        fileBytes,
        memoryBytes: index.memoryBytes,
        memoryBytesPerItem: index.size === 0 ? 0 : index.memoryBytes / index.size,
      };
      print(
        options.json,
        stats,
        [
          `kind       ${stats.kind}`,
          `dim        ${stats.dim}`,
          `items      ${stats.size} (${labelled} labelled)`,
          `classes    ${stats.classes}`,
          `buckets    min ${stats.buckets.min}, max ${stats.buckets.max}, mean ${stats.buckets.mean.toFixed(1)}, empty ${stats.buckets.empty}`,
          `file       ${fileBytes} bytes`,
          `memory     ${stats.memoryBytes} bytes (${stats.memoryBytesPerItem.toFixed(1)} per item)`,
        ].join('\n'),
      );
    });

  program
    .command('evaluate')
    .description(
      'retrieval metrics of labelled queries against an index file (its labelled items are the database)',
    )
    .requiredOption('--index <file>', 'index file; every item needs a label')
    .requiredOption('--queries <file>', 'queries: .npy float32, .jsonl (with labels) or raw float32')
    .option('--labels <file>', 'query labels (.npy, .json or one per line), unless the JSONL carries them')
    .option(
      '--probe <p>',
      'rank through the two-stage search with this probe (default: exhaustive)',
      integer('probe'),
    )
    .option('--no-full-ranking', 'with --probe: rank only the probed buckets')
    .option('--ks <list>', 'cut-offs for P@k, mAP@k and recall@k', '1,10,100')
    .option('--json', 'print JSON')
    .action(async (options) => {
      const index = await loadIndex(options.index);
      const input = await readVectors(options.queries, index.dim);
      const queryLabels = options.labels ? await readLabels(options.labels) : input.labels;
      if (queryLabels === undefined)
        throw new InvalidArgumentError('query labels are needed: --labels <file>');
      const ks = String(options.ks)
        .split(',')
        .map((k) => Number(k.trim()));
      const total = input.vectors.length / index.dim;
      const bar = progress(!options.json, total, 'evaluating');
      let done = 0;
      const onProgress = (now: number) => {
        bar.tick(now - done);
        done = now;
      };
      let metrics: RetrievalMetrics;
      if (options.probe !== undefined) {
        if (!(index instanceof AnchorIndex))
          throw new InvalidArgumentError('--probe needs an AnchorIndex file');
        metrics = evaluateAnchorIndex(index, {
          queries: input.vectors,
          queryLabels,
          probe: options.probe,
          fullRanking: options.fullRanking,
          ks,
          onProgress,
        });
      } else {
        const database = new Float32Array(index.size * index.dim);
        const databaseLabels = new Int32Array(index.size);
        let i = 0;
        for (const item of index.items()) {
          if (item.label === undefined) {
            throw new AnchorageError('INVALID_ARGUMENT', `item ${JSON.stringify(item.id)} has no label`, {
              argument: 'index',
            });
          }
          database.set(item.vector, i * index.dim);
          databaseLabels[i++] = item.label;
        }
        metrics = evaluateRetrieval({
          queries: input.vectors,
          queryLabels,
          database,
          databaseLabels,
          dim: index.dim,
          ks,
          onProgress,
        });
      }
      bar.stop();
      const perK = (name: string, values: Record<number, number>) =>
        ks.map((k) => `${name}@${k} ${values[k]!.toFixed(4)}`).join('  ');
      print(
        options.json,
        metrics,
        [
          `queries ${metrics.queries} (${metrics.skipped} skipped: no relevant item), database ${metrics.databaseSize}`,
          `mAP ${metrics.meanAveragePrecision.toFixed(4)}  R-precision ${metrics.rPrecision.toFixed(4)}  mAP@R ${metrics.mapAtR.toFixed(4)}`,
          perK('P', metrics.precisionAtK),
          perK('mAP', metrics.mapAtK),
          `${perK('recall', metrics.recallAtK)}  scanned ${(100 * metrics.scannedFraction).toFixed(1)}%`,
        ].join('\n'),
      );
    });

  program
    .command('bench')
    .description('time FlatIndex against AnchorIndex (probe 1, 2, 3) in this process')
    .option('--index <file>', 'an AnchorIndex file (queries are stored vectors plus noise)')
    .option('--n <n>', 'synthetic database size', integer('n'), 100_000)
    .option('--dim <d>', 'synthetic embedding size', integer('dim'), 128)
    .option('--classes <C>', 'synthetic clusters', integer('classes'), 100)
    .option('--queries <q>', 'number of queries', integer('queries'), 200)
    .option('-k, --k <k>', 'results per query', integer('k'), 10)
    .option('--seed <s>', 'random seed', integer('seed', 0), 1)
    .option('--json', 'print JSON')
    .action(async (options) => {
      let flat: FlatIndex;
      let anchor: AnchorIndex;
      let queries: Float32Array;
      let source: string;
      let measuredBytesPerItem: number | undefined;
      if (options.index) {
        anchor = await AnchorIndex.load(options.index);
        flat = await FlatIndex.load(options.index);
        const items = [...anchor.items()];
        if (items.length === 0)
          throw new AnchorageError('INVALID_ARGUMENT', 'the index is empty', { argument: 'index' });
        const rng = new Random(options.seed);
        queries = new Float32Array(options.queries * anchor.dim);
        for (let q = 0; q < options.queries; q++) {
          const item = items[rng.nextInt(items.length)]!;
          for (let j = 0; j < anchor.dim; j++)
            queries[q * anchor.dim + j] = item.vector[j]! + rng.normal() * 0.05;
        }
        source = options.index;
      } else {
        const data = syntheticClusters({
          n: options.n,
          dim: options.dim,
          classes: options.classes,
          queries: options.queries,
          seed: options.seed,
        });
        flat = new FlatIndex({ dim: options.dim });
        anchor = new AnchorIndex({ dim: options.dim, anchors: data.anchors });
        const ids = Array.from({ length: options.n }, (_, i) => i);
        flat.add({ ids, vectors: data.database.vectors });
        const before = residentBytes();
        anchor.add({ ids, vectors: data.database.vectors, labels: data.database.labels });
        measuredBytesPerItem = (residentBytes() - before) / options.n;
        queries = data.queries;
        source = `synthetic clusters n=${options.n} d=${options.dim} C=${options.classes}`;
      }
      const probes = [1, 2, 3].filter((p) => p <= anchor.classes);
      const bar = progress(!options.json, probes.length + 1, 'timing');
      const rows = quickBench(flat, anchor, queries, { k: options.k, probes, onStep: () => bar.tick(1) });
      bar.stop();
      const header = `${source}, ${queries.length / anchor.dim} queries, k=${options.k}`;
      const table = rows.map(
        (r) =>
          `${r.index.padEnd(22)} ${r.latencyMs.toFixed(3).padStart(9)} ms ${r.batchQps.toFixed(0).padStart(9)} q/s  ×${r.speedup.toFixed(2).padStart(6)}  recall@${options.k} ${r.recallAtK.toFixed(3)}  scanned ${(100 * r.scannedFraction).toFixed(1)}%  ${r.bytesPerItem.toFixed(0)} B/item`,
      );
      print(
        options.json,
        { source, queries: queries.length / anchor.dim, k: options.k, measuredBytesPerItem, rows },
        [
          header,
          ...(measuredBytesPerItem === undefined
            ? []
            : [
                `AnchorIndex build grew resident memory by ${measuredBytesPerItem.toFixed(1)} B/item${gcNote()}`,
              ]),
          `${'index'.padEnd(22)} ${'median'.padStart(12)} ${'batch'.padStart(13)}  speed-up`,
          ...table,
        ].join('\n'),
      );
    });

  return program;
}
