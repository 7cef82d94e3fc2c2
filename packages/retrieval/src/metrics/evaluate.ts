import { AnchorageError, nearestAnchors } from '@anchorage/loss-core';
import { RowStore, TILE_ROWS } from '../kernel/l2.js';
import { TopK } from '../top-k.js';
import { checkVectors } from '../validate.js';
import { radixSortPairs } from './radix-sort.js';

/** Two-stage ranking for `evaluateRetrieval`: what an AnchorIndex with these anchors returns. */
export interface TwoStageEvaluation {
  /** C×dim anchors. */
  anchors: Float32Array;
  /** Buckets ranked exactly per query, 1..C. */
  probe: number;
  /**
   * Rank the whole database: after the probed buckets come the others, nearest anchor first,
   * each by distance (default true). When false, relevant items outside the probed buckets are
   * never retrieved and add nothing to any metric (as with the index's plain search).
   */
  fullRanking?: boolean;
  /**
   * Bucket of each database item, 0..C-1. Default: the database labels (what `AnchorIndex.add`
   * does for labelled items). Pass `'nearestAnchor'` to bucket by the nearest anchor instead.
   */
  buckets?: Int32Array | readonly number[] | 'nearestAnchor';
}

/** Input of `evaluateRetrieval`. Relevant = same label. */
export interface RetrievalEvaluationInput {
  /** Q×dim query embeddings (e.g. the test split). */
  queries: Float32Array;
  queryLabels: Int32Array | readonly number[];
  /** N×dim database embeddings (e.g. the training split). */
  database: Float32Array;
  databaseLabels: Int32Array | readonly number[];
  dim: number;
  /** Cut-offs for precisionAtK, mapAtK and recallAtK (default [1, 10, 100]). */
  ks?: readonly number[];
  /** Rank through the two-stage search instead of exhaustively. */
  twoStage?: TwoStageEvaluation;
  /** Queries per block of distances: memory is about chunkSize × N × 8 bytes (default 32). */
  chunkSize?: number;
  /** Called after each block of queries. */
  onProgress?: (done: number, total: number) => void;
}

/** Every metric of one evaluation; means are over the evaluated queries (those with R ≥ 1). */
export interface RetrievalMetrics {
  /** Queries given. */
  queries: number;
  /** Queries that had at least one relevant database item. */
  evaluated: number;
  /** Queries without any relevant database item: left out of every mean, as pytorch-metric-learning does. */
  skipped: number;
  databaseSize: number;
  /** mAP over the full ranking: AP = (1/R) Σ over relevant items of precision at their rank. */
  meanAveragePrecision: number;
  /** Mean of (relevant items in the top R) / R. */
  rPrecision: number;
  /** pytorch-metric-learning's mean_average_precision_at_r: AP truncated at rank R, divided by R. */
  mapAtR: number;
  /** k → mean of (relevant items in the top k) / k. */
  precisionAtK: Record<number, number>;
  /** k → mean of AP truncated at rank k, divided by min(R, k). */
  mapAtK: Record<number, number>;
  /**
   * k → mean of |top k ∩ exact top k| / min(k, N) against the exhaustive ranking (1 for an
   * exhaustive evaluation; the approximation quality of a two-stage one). Every query counts.
   */
  recallAtK: Record<number, number>;
  /** Mean fraction of the database compared with a query in stage 2 (1 when exhaustive). */
  scannedFraction: number;
}

interface Resolved {
  queries: Float32Array;
  queryLabels: Int32Array;
  database: Float32Array;
  databaseLabels: Int32Array;
  dim: number;
  q: number;
  n: number;
  ks: number[];
  chunkSize: number;
}

/** A two-stage ranking, checked, with the bucket of every database item. */
interface ResolvedTwoStage {
  anchors: Float32Array;
  classes: number;
  probe: number;
  fullRanking: boolean;
  buckets: Int32Array;
}

function toLabels(labels: Int32Array | readonly number[], count: number, argument: string): Int32Array {
  if (labels === undefined || labels === null || labels.length !== count) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `${argument} must have ${count} entries, got ${labels?.length}`,
      {
        argument,
        value: labels?.length,
      },
    );
  }
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label > 0x7fffffff) {
      throw new AnchorageError(
        'LABEL_OUT_OF_RANGE',
        `${argument}[${i}] is ${label}; labels are integers ≥ 0`,
        {
          argument,
          value: label,
        },
      );
    }
    out[i] = label;
  }
  return out;
}

/** Checks a two-stage evaluation and resolves its buckets (undefined: exhaustive). */
function resolveTwoStage(
  stage: TwoStageEvaluation | undefined,
  database: Float32Array,
  databaseLabels: Int32Array,
  dim: number,
  n: number,
): ResolvedTwoStage | undefined {
  if (stage === undefined) return undefined;
  const { anchors, probe, fullRanking = true } = stage;
  const classes = checkVectors(anchors, dim, 'anchors');
  if (classes < 1)
    throw new AnchorageError('INVALID_ARGUMENT', 'anchors must hold at least one anchor', {
      argument: 'anchors',
    });
  if (!Number.isInteger(probe) || probe < 1 || probe > classes) {
    throw new AnchorageError('INVALID_ARGUMENT', `probe must be an integer in 1..${classes}, got ${probe}`, {
      argument: 'probe',
      value: probe,
    });
  }
  const given = stage.buckets;
  const buckets =
    given === 'nearestAnchor'
      ? nearestAnchors(database, anchors, dim, 1).indices
      : toLabels(given ?? databaseLabels, n, 'buckets');
  for (let i = 0; i < n; i++) {
    if (buckets[i]! >= classes) {
      throw new AnchorageError(
        'LABEL_OUT_OF_RANGE',
        `bucket ${buckets[i]} of database item ${i} is not in 0..${classes - 1}`,
        {
          argument: 'buckets',
          value: buckets[i],
        },
      );
    }
  }
  return { anchors, classes, probe, fullRanking, buckets };
}

/** Checks everything but the two-stage ranking (see {@link resolveTwoStage}). */
function resolve(input: RetrievalEvaluationInput): Resolved {
  const dim = input.dim;
  if (!Number.isInteger(dim) || dim < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `dim must be an integer ≥ 1, got ${dim}`, {
      argument: 'dim',
      value: dim,
    });
  }
  const q = checkVectors(input.queries, dim, 'queries');
  const n = checkVectors(input.database, dim, 'database');
  const ks = [...(input.ks ?? [1, 10, 100])];
  for (const k of ks) {
    if (!Number.isInteger(k) || k < 1) {
      throw new AnchorageError('INVALID_ARGUMENT', `every k must be an integer ≥ 1, got ${k}`, {
        argument: 'ks',
        value: k,
      });
    }
  }
  const chunkSize = input.chunkSize ?? 32;
  if (!Number.isInteger(chunkSize) || chunkSize < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `chunkSize must be an integer ≥ 1, got ${chunkSize}`, {
      argument: 'chunkSize',
      value: chunkSize,
    });
  }
  const queryLabels = toLabels(input.queryLabels, q, 'queryLabels');
  const databaseLabels = toLabels(input.databaseLabels, n, 'databaseLabels');
  return {
    queries: input.queries,
    queryLabels,
    database: input.database,
    databaseLabels,
    dim,
    q,
    n,
    ks,
    chunkSize,
  };
}

/**
 * Evaluates retrieval of `queries` against `database` (relevant = same label) and returns every
 * metric at once: mAP over the full ranking, R-precision, mAP@R, and P@k, mAP@k and recall@k for
 * each k. Exhaustive by default; with `twoStage` the ranking is the one AnchorIndex produces
 * (stage 1 over the anchors, stage 2 inside the probed buckets, the other buckets appended in full-
 * ranking mode), and `scannedFraction` says how much of the database stage 2 touched.
 *
 * Ties: items at equal distance are ranked by database order (lower index first), the same rule the
 * indexes apply (insertion order). Distances are squared L2 from the indexes' own kernel.
 *
 * Memory is bounded: distances are computed for `chunkSize` queries at a time (chunkSize × N
 * float64), never the whole Q×N matrix; 10,000 × 60,000 runs in tens of megabytes.
 * @example
 * const m = evaluateRetrieval({ queries: test, queryLabels, database: train, databaseLabels, dim: 128, ks: [10, 100] });
 * m.meanAveragePrecision; m.precisionAtK[10]; m.mapAtK[100];
 */
export function evaluateRetrieval(input: RetrievalEvaluationInput): RetrievalMetrics {
  return evaluateRetrievalMany(input, [input.twoStage])[0]!;
}

/**
 * Several rankings of the same queries against the same database in one pass, each as
 * {@link evaluateRetrieval} would give it alone (bit for bit): the exhaustive ranking (`undefined`)
 * and any two-stage ones. Each block of distances is computed once and serves every ranking, so k
 * rankings cost one distance computation, not k. `input.twoStage` is ignored.
 * @example
 * const [exhaustive, probe1] = evaluateRetrievalMany(input, [undefined, { anchors, probe: 1 }]);
 */
export function evaluateRetrievalMany(
  input: RetrievalEvaluationInput,
  rankings: readonly (TwoStageEvaluation | undefined)[],
): RetrievalMetrics[] {
  const r = resolve(input);
  const { q, n, dim, ks, chunkSize, queries, database } = r;
  const runs = rankings.map((stage) => ({
    twoStage: resolveTwoStage(stage, database, r.databaseLabels, dim, n),
    bucketMembers: [] as Int32Array[],
    sums: {
      ap: 0,
      rPrecision: 0,
      mapAtR: 0,
      precisionAtK: new Float64Array(ks.length),
      mapAtK: new Float64Array(ks.length),
      recallAtK: new Float64Array(ks.length),
      scanned: 0,
    },
    evaluated: 0,
  }));
  const maxK = Math.max(1, ...ks);

  // Per-label counts give R for each query without a pass over the database.
  const labelCounts = new Map<number, number>();
  for (let i = 0; i < n; i++)
    labelCounts.set(r.databaseLabels[i]!, (labelCounts.get(r.databaseLabels[i]!) ?? 0) + 1);

  // Bucket membership lists, for two-stage groups.
  for (const run of runs) {
    const stage = run.twoStage;
    if (stage === undefined) continue;
    const counts = new Int32Array(stage.classes);
    for (let i = 0; i < n; i++) counts[stage.buckets[i]!]!++;
    run.bucketMembers = Array.from(counts, (c) => new Int32Array(c));
    const fill = new Int32Array(stage.classes);
    for (let i = 0; i < n; i++) {
      const b = stage.buckets[i]!;
      run.bucketMembers[b]![fill[b]!++] = i;
    }
  }
  const distances = new Float64Array(Math.min(chunkSize, Math.max(q, 1)) * n);
  const exactHeap = new TopK(maxK);
  const rankingHeap = new TopK(maxK);
  const ranker = new RelevantRanker(n);
  // The database in kernel memory, so distances are the indexes' own, bit for bit.
  const rows = new RowStore(dim, n);
  rows.rows.set(database);

  for (let start = 0; start < q; start += chunkSize) {
    const end = Math.min(q, start + chunkSize);
    computeDistances(queries, start, end, rows, n, dim, distances);
    for (const run of runs) {
      const { sums, bucketMembers } = run;
      const stage1 =
        run.twoStage === undefined
          ? undefined
          : nearestAnchors(
              queries.subarray(start * dim, end * dim),
              run.twoStage.anchors,
              dim,
              run.twoStage.fullRanking ? run.twoStage.classes : run.twoStage.probe,
            );
      for (let qi = start; qi < end; qi++) {
        const row = distances.subarray((qi - start) * n, (qi - start + 1) * n);
        const label = r.queryLabels[qi]!;
        const relevantCount = labelCounts.get(label) ?? 0;
        // The ranking as groups of database indices, each ranked by (distance, index).
        let groups: (Int32Array | undefined)[];
        let scanned = n;
        if (run.twoStage === undefined || stage1 === undefined) {
          groups = [undefined];
        } else {
          const width = run.twoStage.fullRanking ? run.twoStage.classes : run.twoStage.probe;
          const order = stage1.indices.subarray((qi - start) * width, (qi - start + 1) * width);
          const probed = concatMembers(bucketMembers, order.subarray(0, run.twoStage.probe));
          scanned = probed.length;
          groups = [probed];
          if (run.twoStage.fullRanking)
            for (let i = run.twoStage.probe; i < width; i++) groups.push(bucketMembers[order[i]!]!);
        }
        sums.scanned += n === 0 ? 1 : scanned / n;

        // recall@k against the exhaustive top k (two-stage only; exhaustive is 1 by construction).
        if (run.twoStage === undefined) {
          for (let j = 0; j < ks.length; j++) sums.recallAtK[j]! += 1;
        } else {
          const exact = topIndices(row, undefined, maxK, exactHeap);
          const approx: number[] = [];
          for (const group of groups) {
            if (approx.length >= maxK) break;
            for (const index of topIndices(row, group, maxK - approx.length, rankingHeap)) approx.push(index);
          }
          for (let j = 0; j < ks.length; j++) {
            const k = Math.min(ks[j]!, n);
            if (k === 0) {
              sums.recallAtK[j]! += 1;
              continue;
            }
            const truth = new Set(exact.subarray(0, k));
            let hit = 0;
            for (let i = 0; i < Math.min(k, approx.length); i++) if (truth.has(approx[i]!)) hit++;
            sums.recallAtK[j]! += hit / k;
          }
        }

        if (relevantCount === 0) continue;
        run.evaluated++;
        const ranks = ranker.ranks(row, r.databaseLabels, label, groups);
        let ap = 0;
        let inR = 0;
        let apAtR = 0;
        const inK = new Float64Array(ks.length);
        const apAtK = new Float64Array(ks.length);
        for (let i = 0; i < ranks.length; i++) {
          const rank = ranks[i]!;
          const precision = (i + 1) / rank;
          ap += precision;
          if (rank <= relevantCount) {
            inR++;
            apAtR += precision;
          }
          for (let j = 0; j < ks.length; j++) {
            if (rank <= ks[j]!) {
              inK[j]!++;
              apAtK[j]! += precision;
            }
          }
        }
        sums.ap += ap / relevantCount;
        sums.rPrecision += inR / relevantCount;
        sums.mapAtR += apAtR / relevantCount;
        for (let j = 0; j < ks.length; j++) {
          sums.precisionAtK[j]! += inK[j]! / ks[j]!;
          sums.mapAtK[j]! += apAtK[j]! / Math.min(relevantCount, ks[j]!);
        }
      }
    }
    input.onProgress?.(end, q);
  }

  const byK = (values: Float64Array, divisor: number) =>
    Object.fromEntries(ks.map((k, j) => [k, divisor === 0 ? 0 : values[j]! / divisor]));
  return runs.map(({ sums, evaluated }) => {
    const mean = (sum: number) => (evaluated === 0 ? 0 : sum / evaluated);
    return {
      queries: q,
      evaluated,
      skipped: q - evaluated,
      databaseSize: n,
      meanAveragePrecision: mean(sums.ap),
      rPrecision: mean(sums.rPrecision),
      mapAtR: mean(sums.mapAtR),
      precisionAtK: byK(sums.precisionAtK, evaluated),
      mapAtK: byK(sums.mapAtK, evaluated),
      recallAtK: byK(sums.recallAtK, q),
      scannedFraction: q === 0 ? 0 : sums.scanned / q,
    };
  });
}

function concatMembers(members: Int32Array[], buckets: Int32Array): Int32Array {
  let total = 0;
  for (const b of buckets) total += members[b]!.length;
  const out = new Int32Array(total);
  let offset = 0;
  for (const b of buckets) {
    out.set(members[b]!, offset);
    offset += members[b]!.length;
  }
  return out;
}

/** Squared L2 distances of queries start..end-1 to every database row, tile by tile for cache reuse. */
function computeDistances(
  queries: Float32Array,
  start: number,
  end: number,
  rows: RowStore,
  n: number,
  dim: number,
  out: Float64Array,
): void {
  for (let tile = 0; tile < n; tile += TILE_ROWS) {
    const tileEnd = Math.min(n, tile + TILE_ROWS);
    for (let qi = start; qi < end; qi++) {
      rows.setQuery(queries, qi * dim);
      out.set(rows.distances(tile, tileEnd), (qi - start) * n + tile);
    }
  }
}

/** Database indices of the `k` smallest distances among `members` (all when undefined), by (distance, index). */
function topIndices(row: Float64Array, members: Int32Array | undefined, k: number, heap: TopK): Int32Array {
  heap.reset(Math.max(1, k));
  if (members === undefined) {
    for (let i = 0; i < row.length; i++) if (row[i]! <= heap.worst) heap.push(row[i]!, i, 0, i);
  } else {
    for (const i of members) if (row[i]! <= heap.worst) heap.push(row[i]!, i, 0, i);
  }
  const drained = heap.drain();
  return drained.slots.slice(0, Math.min(k, drained.count));
}

/**
 * Ranks (1-based, in the whole ranking) of a query's relevant items, in ranking order; relevant
 * items outside every group get no rank and count as never retrieved. Within a group the order is
 * (distance, database index). Only the relevant items are sorted (by distance, then index); each
 * irrelevant item is placed among them — a table over the relevant distances' range, then a step
 * or two, and at a shared distance by database index — and counted, and a running sum gives each
 * relevant item the number of irrelevant items ahead of it.
 */
class RelevantRanker {
  // Distances are float32 values (the kernel's), held as float32 so their bit patterns, unsigned,
  // sort in numeric order (they are ≥ 0) by radix sort.
  private readonly relevant: Float32Array;
  private readonly relevantKeys: Uint32Array;
  private readonly relevantIndex: Int32Array;
  private readonly irrelevant: Float32Array;
  private readonly irrelevantIndex: Int32Array;
  private readonly scratchKeys: Uint32Array;
  private readonly scratchIndex: Int32Array;
  private readonly out: Float64Array;
  /** Per relevant position: irrelevant items placed just before it. */
  private readonly ahead: Int32Array;
  /** Per bucket of the relevant distances' range: the first relevant position in it or after it. */
  private readonly table: Int32Array;

  constructor(n: number) {
    this.relevant = new Float32Array(n);
    this.relevantKeys = new Uint32Array(this.relevant.buffer);
    this.relevantIndex = new Int32Array(n);
    this.irrelevant = new Float32Array(n);
    this.irrelevantIndex = new Int32Array(n);
    this.scratchKeys = new Uint32Array(n);
    this.scratchIndex = new Int32Array(n);
    this.out = new Float64Array(n);
    this.ahead = new Int32Array(n + 1);
    this.table = new Int32Array(n + 1);
  }

  ranks(
    row: Float64Array,
    labels: Int32Array,
    label: number,
    groups: (Int32Array | undefined)[],
  ): Float64Array {
    let count = 0;
    let offset = 0;
    const { relevant, relevantIndex, irrelevant, irrelevantIndex } = this;
    for (const group of groups) {
      let nr = 0;
      let ni = 0;
      const size = group === undefined ? row.length : group.length;
      for (let g = 0; g < size; g++) {
        const i = group === undefined ? g : group[g]!;
        if (labels[i] === label) {
          relevant[nr] = row[i]!;
          relevantIndex[nr++] = i;
        } else {
          irrelevant[ni] = row[i]!;
          irrelevantIndex[ni++] = i;
        }
      }
      if (nr > 0) {
        radixSortPairs(this.relevantKeys, relevantIndex, this.scratchKeys, this.scratchIndex, nr);
        this.indexOrderRuns(nr);
        this.place(nr, ni, count, offset);
      }
      count += nr;
      offset += size;
    }
    return this.out.subarray(0, count);
  }

  /** Relevant items at one distance in database-index order (a group may list indices out of order). */
  private indexOrderRuns(nr: number): void {
    const rel = this.relevant;
    const idx = this.relevantIndex;
    for (let r = 1; r < nr; r++) {
      if (rel[r] !== rel[r - 1] || idx[r]! > idx[r - 1]!) continue;
      const value = idx[r]!;
      let j = r - 1;
      while (j >= 0 && rel[j] === rel[r] && idx[j]! > value) {
        idx[j + 1] = idx[j]!;
        j--;
      }
      idx[j + 1] = value;
    }
  }

  /** Places the irrelevant items among the sorted relevant ones and writes the relevant ranks. */
  private place(nr: number, ni: number, outStart: number, firstRank: number): void {
    const rel = this.relevant;
    const relIndex = this.relevantIndex;
    const irr = this.irrelevant;
    const irrIndex = this.irrelevantIndex;
    const ahead = this.ahead;
    const table = this.table;
    const lo = rel[0]!;
    const hi = rel[nr - 1]!;
    const buckets = nr;
    const scale = hi > lo ? buckets / (hi - lo) : 0;
    // table[b] = the first relevant position whose bucket is ≥ b (the bucket grows with the distance)
    let b = 0;
    for (let j = 0; j < nr; j++) {
      const bj = Math.min(buckets - 1, Math.floor((rel[j]! - lo) * scale));
      while (b <= bj) table[b++] = j;
    }
    while (b <= buckets) table[b++] = nr;
    ahead.fill(0, 0, nr + 1);
    for (let i = 0; i < ni; i++) {
      const d = irr[i]!;
      let j: number;
      if (d < lo) j = 0;
      else if (d > hi) j = nr;
      else {
        j = table[Math.min(buckets - 1, Math.floor((d - lo) * scale))]!;
        while (j < nr && rel[j]! < d) j++;
        // at a shared distance it follows the relevant items with a smaller database index
        const index = irrIndex[i]!;
        while (j < nr && rel[j] === d && relIndex[j]! < index) j++;
      }
      ahead[j]!++;
    }
    let before = 0;
    for (let j = 0; j < nr; j++) {
      before += ahead[j]!;
      this.out[outStart + j] = firstRank + before + j + 1;
    }
  }
}
