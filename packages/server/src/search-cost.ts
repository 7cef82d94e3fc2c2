import { ApiError } from './errors.js';

/** What one search request asks for. */
export interface SearchShape {
  /** Query vectors in the request (1 for `POST /v1/search`). */
  queries: number;
  k: number;
  probe: number;
  /** Whether a label filter is given (it may scan the probed buckets twice). */
  filtered: boolean;
}

/** The index a request runs against: its dimension and its items per bucket. */
export interface IndexShape {
  dim: number;
  /** Items per bucket, one entry per anchor. */
  bucketSizes: readonly number[];
}

/** Upper bounds of what a search request costs. */
export interface SearchCost {
  /** Hits the answer may hold: queries × k. */
  results: number;
  /** Stored vectors compared with a query, summed over the queries, at most. */
  rows: number;
  /** Float32 multiply-adds at most: (queries × anchors + rows) × dim. */
  work: number;
}

/** Limits on one search request, and on the searches admitted at once. */
export interface SearchLimits {
  /** Most hits one answer may hold (queries × k). */
  maxResults: number;
  /** Most float32 multiply-adds one request may cost (see `searchCost`). */
  maxWork: number;
  /**
   * Most multiply-adds of all searches admitted and not yet answered: a search that would pass it
   * waits for none and is refused at once (503 `OVERLOADED`, `Retry-After: 1`), so the queue in
   * front of the search threads stays short and a burst is refused rather than served late.
   */
  maxQueuedWork: number;
}

/**
 * Default limits: 100,000 hits (about 10 MB of JSON before metadata), 2^30 multiply-adds per
 * request (well under a second of one core), 2^33 queued (about eight such requests).
 */
export const DEFAULT_SEARCH_LIMITS: SearchLimits = {
  maxResults: 100_000,
  maxWork: 2 ** 30,
  maxQueuedWork: 2 ** 33,
};

/**
 * Counts the work of the searches admitted and not yet answered, in `searchCost`'s units, and
 * turns away one that would pass `maxQueuedWork`. One search is always admitted when none is
 * running, so a request within `maxWork` is never refused for its size alone.
 * @example const leave = admission.enter(cost.work); try { … } finally { leave(); }
 */
export class SearchAdmission {
  private queued = 0;

  constructor(private readonly maxQueuedWork: number) {}

  /** Work admitted and not yet released. */
  get work(): number {
    return this.queued;
  }

  /** Admits `work` (throws 503 OVERLOADED when over the bound); call the returned function once when done. */
  enter(work: number): () => void {
    if (this.queued > 0 && this.queued + work > this.maxQueuedWork) {
      throw new ApiError(
        503,
        'OVERLOADED',
        `the searches already admitted may cost ${this.queued} multiply-adds; this one (${work}) would pass the bound of ${this.maxQueuedWork}; retry shortly`,
      );
    }
    this.queued += work;
    let left = false;
    return () => {
      if (left) return;
      left = true;
      this.queued -= work;
    };
  }
}

/**
 * The most a search may cost, from its shape and the index's bucket sizes: stage 1 compares each
 * query with every anchor, stage 2 with the items of the `probe` buckets, counted as the largest
 * ones; a label filter may scan them a second time. One number for the request, so a scheduler (a
 * worker pool) can use the same figure to admit, queue or split work.
 * @example searchCost({ queries: 2, k: 10, probe: 1, filtered: false }, { dim: 4, bucketSizes: [5, 9] }).work // (2·2 + 2·9)·4 = 88
 */
export function searchCost(shape: SearchShape, index: IndexShape): SearchCost {
  const sizes = [...index.bucketSizes].sort((a, b) => b - a);
  let probed = 0;
  for (let i = 0; i < Math.min(shape.probe, sizes.length); i++) probed += sizes[i]!;
  const rows = shape.queries * probed * (shape.filtered ? 2 : 1);
  return {
    results: shape.queries * shape.k,
    rows,
    work: (shape.queries * index.bucketSizes.length + rows) * index.dim,
  };
}

/** Throws 422 `REQUEST_TOO_LARGE`, naming the limit, when a cost passes the limits. */
export function checkSearchCost(cost: SearchCost, limits: SearchLimits): void {
  if (cost.results > limits.maxResults) {
    throw new ApiError(
      422,
      'REQUEST_TOO_LARGE',
      `queries × k is ${cost.results}, over the limit of ${limits.maxResults} results per request; lower k or send fewer queries`,
      'k',
    );
  }
  if (cost.work > limits.maxWork) {
    throw new ApiError(
      422,
      'REQUEST_TOO_LARGE',
      `this search may compare ${cost.rows} stored vectors (${cost.work} multiply-adds), over the limit of ${limits.maxWork} per request; lower probe or send fewer queries`,
      'probe',
    );
  }
}
