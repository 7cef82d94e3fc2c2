import { nearestAnchors } from '@anchorage/loss-core';
import type { ItemId, SearchHit } from '@anchorage/retrieval';

/** An item as the API sees it: string id, vector of length dim, optional label and JSON metadata. */
export interface ItemRecord {
  id: string;
  vector: Float32Array;
  label: number | undefined;
  metadata: unknown;
}

/** A stored item with the bucket the index placed it in. */
export interface StoredRecord extends ItemRecord {
  bucket: number;
}

/** Options of a catalog search. */
export interface CatalogSearchOptions {
  k: number;
  probe: number;
  /** Keep only items whose label is one of these. */
  labels?: readonly number[];
}

/** One hit with its metadata. `distance` is the squared Euclidean distance. */
export interface CatalogHit {
  id: string;
  distance: number;
  label: number | undefined;
  bucket: number;
  metadata: unknown;
}

/** One query's answer. `probed` distances are squared Euclidean. */
export interface CatalogResult {
  hits: CatalogHit[];
  scanned: number;
  probed: { anchor: number; distance: number }[];
}

/**
 * The durable item store plus the index that searches it. Every write resolves only after it is
 * committed; a write that fails changes nothing.
 */
export interface Catalog {
  readonly dim: number;
  readonly classes: number;
  /** Human-readable name of the storage backend (`sqlite`, `postgres`). */
  readonly kind: string;
  size(): Promise<number>;
  /** Item count per bucket (length = classes). */
  bucketSizes(): Promise<number[]>;
  /** Adds or replaces a batch atomically. Inputs are already validated. */
  put(items: readonly ItemRecord[]): Promise<void>;
  get(id: string): Promise<StoredRecord | undefined>;
  /** Removes an item; resolves false when the id is unknown. */
  remove(id: string): Promise<boolean>;
  /** `queries` is q×dim row-major. */
  search(queries: Float32Array, options: CatalogSearchOptions): Promise<CatalogResult[]>;
  /** Writes whatever snapshot the backend keeps, then releases its resources. */
  close(): Promise<void>;
}

/** The server keeps ids as strings; index files written by other tools may hold numbers. */
export function idKey(id: ItemId): string {
  return typeof id === 'number' ? String(id) : id;
}

/**
 * Applies a label filter over hits from an index that cannot filter itself: callers widen k until
 * enough hits pass or the candidates run out.
 */
export function filterHits(hits: readonly SearchHit[], labels: ReadonlySet<number> | undefined): SearchHit[] {
  if (!labels) return hits.slice();
  return hits.filter((h) => h.label !== undefined && labels.has(h.label));
}

/** Bucket of each vector: its label when given, else its nearest anchor (as AnchorIndex assigns it). */
export function assignBuckets(
  vectors: Float32Array,
  labels: readonly (number | undefined)[],
  anchors: Float32Array,
  dim: number,
): Int32Array {
  const nearest = labels.some((l) => l === undefined)
    ? nearestAnchors(vectors, anchors, dim, 1).indices
    : undefined;
  return Int32Array.from(labels, (label, i) => label ?? nearest![i]!);
}
