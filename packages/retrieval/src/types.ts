/** A user-chosen item id. Numbers must be safe integers; `1` and `'1'` are different ids. */
export type ItemId = string | number;

/** One stored item as returned by `get` and iteration. `vector` is a copy of length `dim`. */
export interface StoredItem {
  id: ItemId;
  vector: Float32Array;
  /** The label given at `add`, if any. */
  label: number | undefined;
  /** The class bucket the item lives in: its label, else its nearest anchor (AnchorIndex); -1 for FlatIndex. */
  bucket: number;
}

/** A batch to add: `vectors` is n×dim row-major; `labels`, when given, has n entries in 0..C-1. */
export interface AddBatch {
  ids: readonly ItemId[];
  vectors: Float32Array;
  labels?: Int32Array | readonly number[];
}

/** Options of `search` / `searchBatch`. */
export interface SearchOptions {
  /** Number of results, ≥ 1 (default 10). */
  k?: number;
  /** Number of nearest anchors whose buckets are ranked exactly, 1..C (default 1). Ignored by FlatIndex. */
  probe?: number;
  /**
   * Two-stage indexes only: after the probed buckets' items (ranked by distance), append the other
   * buckets' items, bucket by bucket in order of anchor distance, each bucket ranked by distance.
   * `k` still bounds the answer; `k ≥ size` gives the full ranking used by full-database mAP.
   */
  fullRanking?: boolean;
  /**
   * Indexes built with `compression: 'int8'`: how many candidates of the int8 scan are re-ranked
   * with exact float32 distances, ≥ k (default max(4·k, 40)). More candidates, higher recall.
   */
  rerank?: number;
  /** Indexes built with `compression: 'int8'`: scan the float32 rows instead (the exact answer). */
  exact?: boolean;
}

/** One search result. `distance` is the squared Euclidean distance to the query (float32 arithmetic in the in-process indexes). */
export interface SearchHit {
  id: ItemId;
  distance: number;
  label: number | undefined;
  bucket: number;
}

/** The answer to one query, nearest first. */
export interface SearchResult {
  hits: SearchHit[];
  /** How many stored vectors were compared with the query in stage 2 (or all of them for FlatIndex). */
  scanned: number;
  /** Stage 1 of a two-stage index: the probed anchors, nearest first, with squared distances. */
  probed?: { anchor: number; distance: number }[];
}

/**
 * What every index implements. Synchronous indexes return plain values; the PostgreSQL index
 * returns promises (`AsyncVectorIndex`). The conformance suite awaits every call, so it runs both.
 * Every method validates its input first and throws `AnchorageError` leaving the index unchanged.
 */
export interface VectorIndex {
  readonly dim: number;
  /** Number of stored items. */
  readonly size: number;
  /** Adds a batch; an id already present is replaced (its vector, label and bucket). Atomic: all or nothing. */
  add(batch: AddBatch): void;
  /** Removes an item; throws `AnchorageError` code `NOT_FOUND` for an unknown id. */
  remove(id: ItemId): void;
  /** The stored item, or `undefined` when the id is unknown. */
  get(id: ItemId): StoredItem | undefined;
  has(id: ItemId): boolean;
  search(query: Float32Array, options?: SearchOptions): SearchResult;
  /** `queries` is q×dim row-major; one result per query. */
  searchBatch(queries: Float32Array, options?: SearchOptions): SearchResult[];
  /** Iterates all stored items (copies). */
  items(): IterableIterator<StoredItem>;
  /** Writes the index file atomically (temp file + rename). */
  save(path: string): Promise<void>;
}

/** The asynchronous twin of `VectorIndex`, for indexes whose storage is remote. */
export type AsyncVectorIndex = {
  readonly dim: number;
  size(): Promise<number>;
  add(batch: AddBatch): Promise<void>;
  remove(id: ItemId): Promise<void>;
  get(id: ItemId): Promise<StoredItem | undefined>;
  has(id: ItemId): Promise<boolean>;
  search(query: Float32Array, options?: SearchOptions): Promise<SearchResult>;
  searchBatch(queries: Float32Array, options?: SearchOptions): Promise<SearchResult[]>;
  items(): AsyncIterableIterator<StoredItem>;
};
