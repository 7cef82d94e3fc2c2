import { AnchorIndex, evaluateRetrieval, FlatIndex } from '@anchorage/retrieval';

/** One row of the main job's evaluation table. */
export interface EvaluationRow {
  name: string;
  map: number;
  mapAt100: number;
  precisionAt10: number;
  /** Mean fraction of the database ranked exactly per query. */
  scanned: number;
  /** Median wall time of one `search` (k = 100) on the index, in microseconds. */
  medianQueryUs: number;
}

/** The evaluation the main job prints and caches. */
export interface Evaluation {
  databaseSize: number;
  queries: number;
  dim: number;
  classes: number;
  exhaustive: EvaluationRow;
  twoStage: EvaluationRow;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function queryTimes(search: (query: Float32Array) => unknown, queries: Float32Array, dim: number): number[] {
  const count = queries.length / dim;
  // one untimed pass warms the JIT and the caches, so the median describes a serving process
  for (let i = 0; i < Math.min(count, 20); i++) search(queries.subarray(i * dim, (i + 1) * dim));
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const query = queries.subarray(i * dim, (i + 1) * dim);
    const start = process.hrtime.bigint();
    search(query);
    times.push(Number(process.hrtime.bigint() - start) / 1000);
  }
  return times;
}

/**
 * The evaluation protocol (database = training embeddings, queries = test embeddings, relevant =
 * same class) exhaustively and through the two-stage search at probe 1, plus the median time of
 * one query on a `FlatIndex` and on an `AnchorIndex` holding the same database.
 */
export function evaluateEmbeddings(input: {
  database: Float32Array;
  databaseLabels: Int32Array;
  queries: Float32Array;
  queryLabels: Int32Array;
  anchors: Float32Array;
  dim: number;
}): Evaluation {
  const { database, databaseLabels, queries, queryLabels, anchors, dim } = input;
  const common = { queries, queryLabels, database, databaseLabels, dim, ks: [10, 100] };
  const exhaustive = evaluateRetrieval(common);
  const twoStage = evaluateRetrieval({ ...common, twoStage: { anchors, probe: 1 } });

  const ids = Array.from({ length: databaseLabels.length }, (_, i) => i);
  const flat = new FlatIndex({ dim });
  flat.add({ ids, vectors: database, labels: databaseLabels });
  const anchorIndex = new AnchorIndex({ anchors, dim });
  anchorIndex.add({ ids, vectors: database, labels: databaseLabels });
  const flatTimes = queryTimes((q) => flat.search(q, { k: 100 }), queries, dim);
  const anchorTimes = queryTimes((q) => anchorIndex.search(q, { k: 100, probe: 1 }), queries, dim);

  const row = (name: string, m: typeof exhaustive, times: number[]): EvaluationRow => ({
    name,
    map: m.meanAveragePrecision,
    mapAt100: m.mapAtK[100]!,
    precisionAt10: m.precisionAtK[10]!,
    scanned: m.scannedFraction,
    medianQueryUs: median(times),
  });
  return {
    databaseSize: databaseLabels.length,
    queries: queryLabels.length,
    dim,
    classes: anchors.length / dim,
    exhaustive: row('exhaustive (FlatIndex)', exhaustive, flatTimes),
    twoStage: row('two-stage, probe 1 (AnchorIndex)', twoStage, anchorTimes),
  };
}

function fixed(x: number, digits = 4): string {
  return x.toFixed(digits);
}

function duration(us: number): string {
  return us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(0)} µs`;
}

/** The evaluation as the table the main job prints. */
export function formatEvaluation(e: Evaluation, dataset: string): string {
  const header = ['', 'mAP', 'mAP@100', 'P@10', 'scanned', 'median query'];
  const rows = [e.exhaustive, e.twoStage].map((r) => [
    r.name,
    fixed(r.map),
    fixed(r.mapAt100),
    fixed(r.precisionAt10),
    `${(r.scanned * 100).toFixed(1)} %`,
    duration(r.medianQueryUs),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => r[c]!.length)));
  const line = (cells: string[]) =>
    cells.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ');
  const kept = e.exhaustive.map > 0 ? (e.twoStage.map / e.exhaustive.map) * 100 : 0;
  const speedup = e.twoStage.medianQueryUs > 0 ? e.exhaustive.medianQueryUs / e.twoStage.medianQueryUs : 0;
  return [
    `${dataset}: database ${e.databaseSize.toLocaleString('en')} training images, ` +
      `${e.queries.toLocaleString('en')} test queries, d = ${e.dim}, ${e.classes} classes (k = 100 for timings)`,
    line(header),
    ...rows.map(line),
    `two-stage keeps ${kept.toFixed(1)} % of the exhaustive mAP, ranks ${(e.twoStage.scanned * 100).toFixed(1)} % ` +
      `of the database and answers ${speedup.toFixed(1)}× faster`,
  ].join('\n');
}
