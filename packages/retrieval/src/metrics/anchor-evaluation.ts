import { AnchorageError } from '@anchorage/loss-core';
import type { AnchorIndex } from '../anchor/index.js';
import { evaluateRetrieval, type RetrievalEvaluationInput, type RetrievalMetrics } from './evaluate.js';

/** Options of `evaluateAnchorIndex`. */
export interface AnchorIndexEvaluationOptions
  extends Pick<RetrievalEvaluationInput, 'queries' | 'queryLabels' | 'ks' | 'chunkSize' | 'onProgress'> {
  /** Buckets ranked exactly per query, 1..C (default 1). */
  probe?: number;
  /** Append the other buckets so mAP covers the whole database (default true). */
  fullRanking?: boolean;
}

/**
 * Evaluates an AnchorIndex as it searches: its items (all must carry labels) are the database in
 * insertion order, its anchors and buckets drive the two-stage ranking, ties go to the earlier
 * inserted item. Returns the metrics of `evaluateRetrieval`, `scannedFraction` included.
 * @example
 * const m = evaluateAnchorIndex(index, { queries, queryLabels, probe: 2, ks: [10, 100] });
 */
export function evaluateAnchorIndex(
  index: AnchorIndex,
  options: AnchorIndexEvaluationOptions,
): RetrievalMetrics {
  const dim = index.dim;
  const database = new Float32Array(index.size * dim);
  const databaseLabels = new Int32Array(index.size);
  const buckets = new Int32Array(index.size);
  let i = 0;
  for (const item of index.items()) {
    if (item.label === undefined) {
      throw new AnchorageError(
        'INVALID_ARGUMENT',
        `item ${JSON.stringify(item.id)} has no label; evaluation needs labels`,
        {
          argument: 'index',
          value: item.id,
        },
      );
    }
    database.set(item.vector, i * dim);
    databaseLabels[i] = item.label;
    buckets[i] = item.bucket;
    i++;
  }
  return evaluateRetrieval({
    queries: options.queries,
    queryLabels: options.queryLabels,
    database,
    databaseLabels,
    dim,
    ks: options.ks,
    chunkSize: options.chunkSize,
    onProgress: options.onProgress,
    twoStage: {
      anchors: index.anchors,
      probe: options.probe ?? 1,
      fullRanking: options.fullRanking ?? true,
      buckets,
    },
  });
}
