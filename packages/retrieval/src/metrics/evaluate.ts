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
    /** Items of each label in each bucket (bucket × label id), when small enough to hold. */
    bucketLabelCounts: undefined as Int32Array | undefined,
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

  // Dense label ids, so each bucket can count its items per label.
  const labelIds = new Map<number, number>();
  const databaseLabelIds = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = r.databaseLabels[i]!;
    let id = labelIds.get(label);
    if (id === undefined) labelIds.set(label, (id = labelIds.size));
    databaseLabelIds[i] = id;
  }

  // Bucket membership lists, for two-stage groups, and how many items of each label every bucket
  // holds: a bucket without any item relevant to a query is passed over whole.
  for (const run of runs) {
    const stage = run.twoStage;
    if (stage === undefined) continue;
    const counts = new Int32Array(stage.classes);
    for (let i = 0; i < n; i++) counts[stage.buckets[i]!]!++;
    if (stage.classes * labelIds.size <= MAX_BUCKET_LABEL_COUNTS) {
      const perLabel = new Int32Array(stage.classes * labelIds.size);
      for (let i = 0; i < n; i++) perLabel[stage.buckets[i]! * labelIds.size + databaseLabelIds[i]!]!++;
      run.bucketLabelCounts = perLabel;
    }
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
  const shared = runs.length > 1;
  const anyTwoStage = runs.some((run) => run.twoStage !== undefined);
  // each query's exhaustive top maxK, for the recall of every two-stage ranking: found once
  const exactTop: Int32Array[] = [];
  // The database in kernel memory, so distances are the indexes' own, bit for bit.
  const rows = new RowStore(dim, n);
  rows.rows.set(database);

  for (let start = 0; start < q; start += chunkSize) {
    const end = Math.min(q, start + chunkSize);
    computeDistances(queries, start, end, rows, n, dim, distances);
    if (anyTwoStage)
      for (let qi = start; qi < end; qi++)
        exactTop[qi - start] = topIndices(
          distances.subarray((qi - start) * n, (qi - start + 1) * n),
          undefined,
          maxK,
          exactHeap,
        );
    // stage 1 of each two-stage ranking, for the whole block
    const stage1s = runs.map((run) =>
      run.twoStage === undefined
        ? undefined
        : nearestAnchors(
            queries.subarray(start * dim, end * dim),
            run.twoStage.anchors,
            dim,
            run.twoStage.fullRanking ? run.twoStage.classes : run.twoStage.probe,
          ),
    );
    for (let qi = start; qi < end; qi++) {
      const row = distances.subarray((qi - start) * n, (qi - start + 1) * n);
      const label = r.queryLabels[qi]!;
      const relevantCount = labelCounts.get(label) ?? 0;
      // several rankings share the query's relevant items in exhaustive order, found once
      if (shared && relevantCount > 0) ranker.prepare(row, r.databaseLabels, label);
      for (let ri = 0; ri < runs.length; ri++) {
        const run = runs[ri]!;
        const { sums, bucketMembers } = run;
        const stage1 = stage1s[ri];
        // The ranking as groups of database indices, each ranked by (distance, index).
        let groups: (Int32Array | undefined)[];
        // per group, how many of its items are relevant (-1: not counted)
        const relevantIn: number[] = [];
        let scanned = n;
        if (run.twoStage === undefined || stage1 === undefined) {
          groups = [undefined];
          relevantIn.push(relevantCount);
        } else {
          const width = run.twoStage.fullRanking ? run.twoStage.classes : run.twoStage.probe;
          const order = stage1.indices.subarray((qi - start) * width, (qi - start + 1) * width);
          const probed = concatMembers(bucketMembers, order.subarray(0, run.twoStage.probe));
          scanned = probed.length;
          groups = [probed];
          const counts = run.bucketLabelCounts;
          const labelId = labelIds.get(label);
          const inBucket = (b: number) =>
            counts === undefined ? -1 : labelId === undefined ? 0 : counts[b * labelIds.size + labelId]!;
          let inProbed = 0;
          for (let i = 0; i < run.twoStage.probe; i++) inProbed += inBucket(order[i]!);
          relevantIn.push(counts === undefined ? -1 : inProbed);
          if (run.twoStage.fullRanking)
            for (let i = run.twoStage.probe; i < width; i++) {
              groups.push(bucketMembers[order[i]!]!);
              relevantIn.push(inBucket(order[i]!));
            }
        }
        sums.scanned += n === 0 ? 1 : scanned / n;

        // recall@k against the exhaustive top k (two-stage only; exhaustive is 1 by construction).
        if (run.twoStage === undefined) {
          for (let j = 0; j < ks.length; j++) sums.recallAtK[j]! += 1;
        } else {
          const exact = exactTop[qi - start]!;
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
        const ranks = shared
          ? ranker.ranks(groups, relevantIn)
          : ranker.ranksAlone(row, r.databaseLabels, label, groups, relevantIn);
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

/** Bucket × label counts held per two-stage ranking at most, 4 MB (beyond it every bucket is scanned). */
const MAX_BUCKET_LABEL_COUNTS = 1 << 20;

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
 * Ranks (1-based, in the whole ranking) of a query's relevant items, in ranking order. A ranking is
 * a list of groups, each ranked by (distance, database index); relevant items outside every group
 * get no rank and count as never retrieved. Only relevant items are ever sorted (by distance, then
 * index); each irrelevant item is placed among them — a table over the relevant distances' range,
 * then a step or two, and at a shared distance by database index — and counted.
 *
 * One ranking alone (`ranksAlone`) does that group by group. Several rankings of one query share
 * `prepare`, which does it once over the whole database and keeps each irrelevant item's place, its
 * slot: within any group the relevant items keep their exhaustive order, and an irrelevant item is
 * ahead of one exactly when its slot is at most that item's exhaustive position, so each ranking
 * (`ranks`) needs only integer counting, no sort and no distance.
 */
class RelevantRanker {
  // Distances are float32 values (the kernel's), held as float32 so their bit patterns, unsigned,
  // sort in numeric order (they are ≥ 0) by radix sort.
  private readonly relevant: Float32Array;
  private readonly relevantKeys: Uint32Array;
  /** Database index of each relevant item, in exhaustive order. */
  private readonly relevantIndex: Int32Array;
  private readonly irrelevant: Float32Array;
  private readonly irrelevantIndex: Int32Array;
  private readonly scratchKeys: Uint32Array;
  private readonly scratchIndex: Int32Array;
  private readonly out: Float64Array;
  /** The exhaustive ranking's relevant ranks, from `prepare`. */
  private readonly exhaustive: Float64Array;
  /** Per database item: its exhaustive position if relevant, else its slot (relevant items ahead of it). */
  private readonly place: Int32Array;
  /** Per group position (or exhaustive position): irrelevant items just before it. */
  private readonly ahead: Int32Array;
  /** Per bucket of the relevant distances' range: the first relevant position in it or after it. */
  private readonly table: Int32Array;
  /** Per exhaustive position: the group holding that relevant item in the ranking at hand (−1: none). */
  private readonly groupOf: Int32Array;
  /** Exhaustive positions of relevant items, grouped, each group in exhaustive order. */
  private readonly positions: Int32Array;
  /** Slots of the irrelevant items of every group, group after group. */
  private readonly slots: Int32Array;
  private label = 0;
  private labels: Int32Array = new Int32Array(0);
  private nr = 0;

  constructor(n: number) {
    this.relevant = new Float32Array(n);
    this.relevantKeys = new Uint32Array(this.relevant.buffer);
    this.relevantIndex = new Int32Array(n);
    this.irrelevant = new Float32Array(n);
    this.irrelevantIndex = new Int32Array(n);
    this.scratchKeys = new Uint32Array(n);
    this.scratchIndex = new Int32Array(n);
    this.out = new Float64Array(n);
    this.exhaustive = new Float64Array(n);
    this.place = new Int32Array(n);
    this.ahead = new Int32Array(n + 1);
    this.table = new Int32Array(n + 1);
    this.groupOf = new Int32Array(n);
    this.positions = new Int32Array(n);
    this.slots = new Int32Array(n);
  }

  /**
   * Splits a group's items (the whole row when undefined) into relevant and irrelevant ones, with
   * their distances; returns how many are relevant (the rest, `size − that`, are irrelevant).
   */
  private collect(
    row: Float64Array,
    group: Int32Array | undefined,
    labels: Int32Array,
    label: number,
  ): number {
    const { relevant, relevantIndex, irrelevant, irrelevantIndex } = this;
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
    return nr;
  }

  /**
   * Sorts the `nr` collected relevant items by (distance, index), places the `ni` irrelevant ones
   * among them (`ahead[j]`: how many sit just before relevant position j) and writes the relevant
   * ranks, starting after `firstRank`, to `out` from `outStart`. With `record`, keeps every item's
   * place (relevant: its position; irrelevant: its slot) for {@link ranks}.
   */
  private sortAndPlace(
    nr: number,
    ni: number,
    record: boolean,
    out: Float64Array,
    outStart: number,
    firstRank: number,
  ): void {
    const { relevant, relevantIndex, irrelevant, irrelevantIndex, place, table, ahead } = this;
    radixSortPairs(this.relevantKeys, relevantIndex, this.scratchKeys, this.scratchIndex, nr);
    this.indexOrderRuns(nr);
    if (record) for (let j = 0; j < nr; j++) place[relevantIndex[j]!] = j;
    const lo = relevant[0]!;
    const hi = relevant[nr - 1]!;
    const buckets = nr;
    const scale = hi > lo ? buckets / (hi - lo) : 0;
    // table[b] = the first relevant position whose bucket is ≥ b (the bucket grows with the distance)
    let b = 0;
    for (let j = 0; j < nr; j++) {
      const bj = Math.min(buckets - 1, Math.floor((relevant[j]! - lo) * scale));
      while (b <= bj) table[b++] = j;
    }
    while (b <= buckets) table[b++] = nr;
    ahead.fill(0, 0, nr + 1);
    for (let i = 0; i < ni; i++) {
      const d = irrelevant[i]!;
      const index = irrelevantIndex[i]!;
      let j: number;
      if (d < lo) j = 0;
      else if (d > hi) j = nr;
      else {
        j = table[Math.min(buckets - 1, Math.floor((d - lo) * scale))]!;
        while (j < nr && relevant[j]! < d) j++;
        // at a shared distance it follows the relevant items with a smaller database index
        while (j < nr && relevant[j] === d && relevantIndex[j]! < index) j++;
      }
      if (record) place[index] = j;
      ahead[j]!++;
    }
    let before = 0;
    for (let j = 0; j < nr; j++) {
      before += ahead[j]!;
      out[outStart + j] = firstRank + before + j + 1;
    }
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

  /**
   * The relevant ranks of one ranking of one query on its own, group by group: each group's relevant
   * items sorted and its irrelevant ones placed among them. The cheaper way for a single ranking;
   * several rankings of a query share {@link prepare} instead.
   */
  ranksAlone(
    row: Float64Array,
    labels: Int32Array,
    label: number,
    groups: readonly (Int32Array | undefined)[],
    relevantIn: readonly number[],
  ): Float64Array {
    let count = 0;
    let firstRank = 0;
    for (let g = 0; g < groups.length; g++) {
      const group = groups[g];
      const size = group === undefined ? row.length : group.length;
      // a group known to hold nothing relevant only moves the later ranks down
      if (relevantIn[g] !== 0) {
        const nr = this.collect(row, group, labels, label);
        if (nr > 0) this.sortAndPlace(nr, size - nr, false, this.out, count, firstRank);
        count += nr;
      }
      firstRank += size;
    }
    return this.out.subarray(0, count);
  }

  /** Orders the relevant items of one query (those labelled `label`) once, and slots the others. */
  prepare(row: Float64Array, labels: Int32Array, label: number): void {
    this.labels = labels;
    this.label = label;
    const nr = this.collect(row, undefined, labels, label);
    this.nr = nr;
    if (nr > 0) this.sortAndPlace(nr, row.length - nr, true, this.exhaustive, 0, 0);
  }

  /**
   * The relevant ranks of one ranking of the prepared query: `groups` in ranking order (undefined:
   * the whole database in one group), `relevantIn` the relevant items of each (0 skips the group,
   * −1: unknown).
   */
  ranks(groups: readonly (Int32Array | undefined)[], relevantIn: readonly number[]): Float64Array {
    const { labels, label, place, groupOf, positions, slots, ahead, out, nr } = this;
    if (groups.length === 1 && groups[0] === undefined) return this.exhaustive.subarray(0, nr);
    const groupCount = groups.length;
    // per group: relevant items found, and where its positions and its slots start
    const found = new Int32Array(groupCount + 1);
    const slotStart = new Int32Array(groupCount + 1);
    let slotEnd = 0;
    groupOf.fill(-1, 0, nr);
    for (let g = 0; g < groupCount; g++) {
      slotStart[g] = slotEnd;
      if (relevantIn[g] === 0) continue;
      const group = groups[g];
      const size = group === undefined ? labels.length : group.length;
      for (let k = 0; k < size; k++) {
        const i = group === undefined ? k : group[k]!;
        if (labels[i] === label) {
          groupOf[place[i]!] = g;
          found[g]!++;
        } else slots[slotEnd++] = place[i]!;
      }
    }
    slotStart[groupCount] = slotEnd;
    // each group's relevant positions in exhaustive order: one counting pass over the positions
    const positionStart = new Int32Array(groupCount + 1);
    for (let g = 0; g < groupCount; g++) positionStart[g + 1] = positionStart[g]! + found[g]!;
    const fill = positionStart.slice(0, groupCount);
    const total = positionStart[groupCount]!;
    if (total > 0)
      for (let p = 0; p < nr; p++) {
        const g = groupOf[p]!;
        if (g >= 0) positions[fill[g]!++] = p;
      }

    let count = 0;
    let firstRank = 0;
    for (let g = 0; g < groupCount; g++) {
      const group = groups[g];
      const size = group === undefined ? labels.length : group.length;
      const m = found[g]!;
      if (m > 0) {
        const first = positionStart[g]!;
        const lo = positions[first]!;
        const hi = positions[first + m - 1]!;
        // table[s - lo] = this group's relevant items before exhaustive position s, for lo ≤ s ≤ hi
        const table = this.table;
        for (let t = 0, s = lo; s <= hi; s++) {
          while (t < m && positions[first + t]! < s) t++;
          table[s - lo] = t;
        }
        ahead.fill(0, 0, m + 1);
        for (let k = slotStart[g]!; k < slotStart[g + 1]!; k++) {
          const slot = slots[k]!;
          ahead[slot < lo ? 0 : slot > hi ? m : table[slot - lo]!]!++;
        }
        let before = 0;
        for (let t = 0; t < m; t++) {
          before += ahead[t]!;
          out[count + t] = firstRank + before + t + 1;
        }
        count += m;
      }
      firstRank += size;
    }
    return out.subarray(0, count);
  }
}
