import { nearestAnchors } from '@anchorage/loss-core';
import type { ItemId, SearchHit } from '@anchorage/retrieval';
import { ApiError } from './errors.js';

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
/** The items with repeated ids collapsed to their last occurrence, as if they were sent one by one. */
export function lastOccurrences(items: readonly ItemRecord[]): ItemRecord[] {
  const last = new Map<string, ItemRecord>();
  for (const item of items) {
    last.delete(item.id);
    last.set(item.id, item);
  }
  return [...last.values()];
}

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

/**
 * Stands in for a catalog that is still loading, so the server can listen (and answer `/healthz`,
 * `/readyz` with 503) while a large index is rebuilt. Searches and writes get 503 `NOT_READY`.
 */
export class LoadingCatalog implements Catalog {
  private target: Catalog | undefined;

  constructor(
    readonly dim: number,
    readonly classes: number,
  ) {}

  get kind(): string {
    return this.target?.kind ?? 'loading';
  }

  /** Whether the real catalog is in place. */
  get loaded(): boolean {
    return this.target !== undefined;
  }

  /** Puts the loaded catalog in place. */
  resolve(catalog: Catalog): void {
    this.target = catalog;
  }

  private get ready(): Catalog {
    if (!this.target) throw new ApiError(503, 'NOT_READY', 'the index is still loading; retry shortly');
    return this.target;
  }

  size(): Promise<number> {
    return this.target ? this.target.size() : Promise.resolve(0);
  }
  bucketSizes(): Promise<number[]> {
    return this.target ? this.target.bucketSizes() : Promise.resolve(new Array<number>(this.classes).fill(0));
  }
  put(items: readonly ItemRecord[]): Promise<void> {
    return this.ready.put(items);
  }
  get(id: string): Promise<StoredRecord | undefined> {
    return this.ready.get(id);
  }
  remove(id: string): Promise<boolean> {
    return this.ready.remove(id);
  }
  search(queries: Float32Array, options: CatalogSearchOptions): Promise<CatalogResult[]> {
    return this.ready.search(queries, options);
  }
  async close(): Promise<void> {
    await this.target?.close();
  }
}
