import { nearestAnchors } from '@anchorage/loss-core';
import { evaluateRetrievalMany } from '@anchorage/retrieval';

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
  /**
   * How the database was bucketed: by its labels (`labels`, what an index of labelled items does),
   * or by each item's nearest anchor (`nearest-anchor`, a database without labels).
   */
  buckets: TwoStageBuckets;
  /** mAP of the two-stage ranking / exhaustive mAP. */
  mapKept: number;
  /** Mean fraction of the database compared exactly with a query in stage 2. */
  fractionScanned: number;
  /** Fraction of queries whose own class is among the probed anchors. */
  stage1Recall: number;
}

/** How the two-stage evaluation assigns database items to buckets. */
export type TwoStageBuckets = 'labels' | 'nearest-anchor';

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
  /** Bucketings of the database to evaluate, each with every probe (default: labels only). */
  buckets?: readonly TwoStageBuckets[];
  /** Queries per block of distances (memory ≈ block × N × 8 bytes). */
  blockSize?: number;
}

/**
 * The evaluation protocol (apps/docs/src/concepts/evaluation.md) through `@anchorage/retrieval`'s `evaluateRetrieval`: every
 * query ranks the whole database by squared L2 distance; relevant means same label. With anchors,
 * also the two-stage search for each probe, exactly as an `AnchorIndex` holding the database with
 * its labels ranks it: stage 1 keeps the `probe` anchors nearest the query, stage 2 ranks the
 * items of those buckets exactly, and the other buckets follow in the order of their anchor's
 * distance (the full-ranking convention of the two-stage page, apps/docs/src/concepts/two-stage-retrieval.md).
 */
export function evaluateRetrieval(input: RetrievalInput): {
  exhaustive: RetrievalMetrics;
  twoStage: TwoStageMetrics[];
} {
  const { database, databaseLabels, queries, queryLabels, dim, classes, anchors } = input;
  const common = {
    database,
    databaseLabels,
    queries,
    queryLabels,
    dim,
    ks: [10, 100],
    ...(input.blockSize === undefined ? {} : { chunkSize: input.blockSize }),
  };
  const protocol = (m: ReturnType<typeof evaluateRetrievalMany>[number]): RetrievalMetrics => ({
    mAP: m.meanAveragePrecision,
    mapAt100: m.mapAtK[100]!,
    precisionAt10: m.precisionAtK[10]!,
    precisionAt100: m.precisionAtK[100]!,
  });
  const probes = [...(input.probes ?? [1, 2, 3])].filter((p) => p >= 1 && p <= classes);
  const bucketings = [...new Set<TwoStageBuckets>(input.buckets ?? ['labels'])];
  const configs =
    anchors === undefined ? [] : bucketings.flatMap((buckets) => probes.map((probe) => ({ buckets, probe })));
  // one pass over the distances for the exhaustive ranking and every two-stage one
  const [all, ...staged] = evaluateRetrievalMany(common, [
    undefined,
    ...configs.map(({ buckets, probe }) => ({
      anchors: anchors!,
      probe,
      buckets: buckets === 'labels' ? databaseLabels : ('nearestAnchor' as const),
    })),
  ]);
  const exhaustive = protocol(all!);
  if (anchors === undefined) return { exhaustive, twoStage: [] };
  const widest = Math.max(0, ...probes);
  const nearest = widest > 0 ? nearestAnchors(queries, anchors, dim, widest).indices : new Int32Array(0);
  const q = queryLabels.length;
  const twoStage = configs.map(({ buckets, probe }, c): TwoStageMetrics => {
    const m = staged[c]!;
    let recalled = 0;
    for (let i = 0; i < q; i++) {
      const probed = nearest.subarray(i * widest, i * widest + probe);
      if (probed.includes(queryLabels[i]!)) recalled++;
    }
    const metrics = protocol(m);
    return {
      probe,
      buckets,
      ...metrics,
      mapKept: exhaustive.mAP > 0 ? metrics.mAP / exhaustive.mAP : 0,
      fractionScanned: m.scannedFraction,
      stage1Recall: recalled / Math.max(q, 1),
    };
  });
  return { exhaustive, twoStage };
}
