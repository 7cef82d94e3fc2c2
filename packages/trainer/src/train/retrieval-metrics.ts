import { nearestAnchors } from '@anchorage/loss-core';
import * as tf from '@tensorflow/tfjs';

/** The protocol's metrics, each a mean over queries. */
export interface RetrievalMetrics {
  /** Mean average precision over the full ranking of the database. */
  mAP: number;
  /** AP truncated at rank 100, normalised by min(R, 100). */
  mapAt100: number;
  precisionAt10: number;
  precisionAt100: number;
}

/** Two-stage search with a given probe: its metrics, their ratio to exhaustive search, and the work saved. */
export interface TwoStageMetrics extends RetrievalMetrics {
  probe: number;
  /** mAP of the two-stage ranking / exhaustive mAP. */
  mapKept: number;
  /** Mean fraction of the database compared exactly with a query in stage 2. */
  fractionScanned: number;
  /** Fraction of queries whose own class is among the probed anchors. */
  stage1Recall: number;
}

/** Input of {@link evaluateRetrieval}: row-major vectors with `dim` columns and integer labels. */
export interface RetrievalInput {
  database: Float32Array;
  databaseLabels: Int32Array;
  queries: Float32Array;
  queryLabels: Int32Array;
  dim: number;
  classes: number;
  /** Class anchors C×dim; with them the two-stage search is evaluated for each of `probes`. */
  anchors?: Float32Array;
  probes?: readonly number[];
  /** Queries per distance block (memory ≈ block × N × 4 bytes). */
  blockSize?: number;
}

class Accumulator {
  ap = 0;
  ap100 = 0;
  p10 = 0;
  p100 = 0;
  count = 0;

  add(
    sumPrecision: number,
    sumPrecision100: number,
    hits10: number,
    hits100: number,
    relevant: number,
  ): void {
    this.count += 1;
    if (relevant === 0) return; // AP of a query without relevant items counts as 0
    this.ap += sumPrecision / relevant;
    this.ap100 += sumPrecision100 / Math.min(relevant, 100);
    this.p10 += hits10 / 10;
    this.p100 += hits100 / 100;
  }

  result(): RetrievalMetrics {
    const n = Math.max(this.count, 1);
    return {
      mAP: this.ap / n,
      mapAt100: this.ap100 / n,
      precisionAt10: this.p10 / n,
      precisionAt100: this.p100 / n,
    };
  }
}

/**
 * Scores one query from the sorted distances of its relevant items and of the competing items
 * ranked in the same stretch of the list, after `base` items that precede them all. The rank of
 * the k-th relevant item is base + k + (competitors strictly closer), so only the relevant
 * items' ranks are ever formed: O(N) after sorting, no full sort of the database per query.
 * Ties go to the relevant item.
 */
function scoreQuery(
  relevant: Float32Array,
  competitors: Float32Array[],
  base: number,
  acc: Accumulator,
): void {
  const pointers = new Int32Array(competitors.length);
  let ahead = 0;
  let sumPrecision = 0;
  let sumPrecision100 = 0;
  let hits10 = 0;
  let hits100 = 0;
  for (let k = 0; k < relevant.length; k++) {
    const d = relevant[k]!;
    for (let j = 0; j < competitors.length; j++) {
      const list = competitors[j]!;
      let p = pointers[j]!;
      while (p < list.length && list[p]! < d) p++;
      ahead += p - pointers[j]!;
      pointers[j] = p;
    }
    const rank = base + k + 1 + ahead;
    const precision = (k + 1) / rank;
    sumPrecision += precision;
    if (rank <= 100) {
      sumPrecision100 += precision;
      hits100 += 1;
      if (rank <= 10) hits10 += 1;
    }
  }
  acc.add(sumPrecision, sumPrecision100, hits10, hits100, relevant.length);
}

/** Squared L2 distances of a block of queries to every database vector, q×N, via one matmul. */
function distanceBlock(
  queries: tf.Tensor2D,
  databaseTransposed: tf.Tensor2D,
  databaseNorms: tf.Tensor2D,
): Float32Array {
  const result = tf.tidy(() => {
    const qNorms = tf.sum(tf.square(queries), 1, true);
    const dots = tf.matMul(queries, databaseTransposed);
    return tf.relu(tf.add(tf.sub(qNorms, tf.mul(2, dots)), databaseNorms));
  });
  // Read back outside tidy: tidy walks whatever its callback returns, element by element for a
  // typed array, which for q×N distances costs more than computing them.
  const values = result.dataSync() as Float32Array;
  result.dispose();
  return values;
}

/**
 * The evaluation protocol (DESIGN.md): every query ranks the whole database by squared L2
 * distance; relevant means same label. With anchors, also the two-stage search for each probe:
 * database items sit in their label's bucket, stage 1 keeps the `probe` anchors nearest the query,
 * stage 2 ranks the items of those buckets exactly, and the other buckets follow in the order of
 * their anchor's distance (the full-ranking convention of DESIGN.md).
 */
export function evaluateRetrieval(input: RetrievalInput): {
  exhaustive: RetrievalMetrics;
  twoStage: TwoStageMetrics[];
} {
  const { database, databaseLabels, queries, queryLabels, dim, classes, anchors } = input;
  const probes = anchors ? [...(input.probes ?? [1, 2, 3])].filter((p) => p <= classes) : [];
  const n = databaseLabels.length;
  const q = queryLabels.length;
  const blockSize = input.blockSize ?? 128;
  const lists: number[][] = Array.from({ length: classes }, () => []);
  databaseLabels.forEach((label, i) => {
    lists[label]!.push(i);
  });
  const members = lists.map((list) => Int32Array.from(list));
  const bucketSize = members.map((m) => m.length);
  const nearest = anchors ? nearestAnchors(queries, anchors, dim, classes) : undefined;

  const exhaustive = new Accumulator();
  const twoStage = probes.map(() => ({ acc: new Accumulator(), scanned: 0, recalled: 0 }));
  // d×N once, so no block pays for a transpose of the whole database
  const db = tf.tidy(() => tf.transpose(tf.tensor2d(database, [n, dim])) as tf.Tensor2D);
  const dbNorms = tf.tidy(() => tf.reshape(tf.sum(tf.square(db), 0), [1, n]) as tf.Tensor2D);
  try {
    for (let start = 0; start < q; start += blockSize) {
      const rows = Math.min(blockSize, q - start);
      const block = tf.tensor2d(queries.subarray(start * dim, (start + rows) * dim), [rows, dim]);
      const distances = distanceBlock(block, db, dbNorms);
      block.dispose();
      for (let r = 0; r < rows; r++) {
        const query = start + r;
        const label = queryLabels[query]!;
        const row = distances.subarray(r * n, (r + 1) * n);
        const sorted = members.map((list) => {
          const out = new Float32Array(list.length);
          for (let i = 0; i < list.length; i++) out[i] = row[list[i]!]!;
          return out.sort();
        });
        const relevant = sorted[label]!;
        scoreQuery(
          relevant,
          sorted.filter((_, c) => c !== label),
          0,
          exhaustive,
        );
        if (nearest === undefined) continue;
        const order = nearest.indices.subarray(query * classes, (query + 1) * classes);
        probes.forEach((probe, i) => {
          const probed = Array.from(order.subarray(0, probe));
          const stats = twoStage[i]!;
          stats.scanned += probed.reduce((sum, c) => sum + bucketSize[c]!, 0) / n;
          if (probed.includes(label)) {
            stats.recalled += 1;
            const others = probed.filter((c) => c !== label).map((c) => sorted[c]!);
            scoreQuery(relevant, others, 0, stats.acc);
          } else {
            // The relevant bucket comes whole after the probed buckets and the unprobed ones whose
            // anchor is nearer; inside it every item is relevant.
            let base = 0;
            for (const c of order) {
              if (c === label) break;
              base += bucketSize[c]!;
            }
            scoreQuery(relevant, [], base, stats.acc);
          }
        });
      }
    }
  } finally {
    tf.dispose([db, dbNorms]);
  }
  const full = exhaustive.result();
  return {
    exhaustive: full,
    twoStage: probes.map((probe, i) => {
      const stats = twoStage[i]!;
      const metrics = stats.acc.result();
      return {
        probe,
        ...metrics,
        mapKept: full.mAP > 0 ? metrics.mAP / full.mAP : 0,
        fractionScanned: stats.scanned / Math.max(q, 1),
        stage1Recall: stats.recalled / Math.max(q, 1),
      };
    }),
  };
}
