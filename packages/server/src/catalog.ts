import { anchorBuckets, type ItemId, type SearchHit, type SearchResult } from '@anchorage/retrieval';
import { ApiError } from './errors.js';
import { isWellFormedText } from './unicode.js';

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
  /** Refuse (422 RESPONSE_TOO_LARGE) once the hits and their metadata pass this many bytes of JSON. */
  maxResponseBytes?: number;
}

/** Bytes of JSON a hit costs besides its metadata (id, distance, label, bucket and the keys). */
export const HIT_OVERHEAD_BYTES = 96;

/**
 * Counts the bytes of JSON an answer will take while the catalog reads the hits' metadata, so an
 * answer over the limit stops before the rest is read, parsed and serialised.
 */
export class ResponseBudget {
  private spent = 0;

  constructor(private readonly limitBytes: number = Number.POSITIVE_INFINITY) {}

  /** Adds one hit whose id has `idLength` characters and whose metadata is `metadataBytes` of JSON. */
  spend(idLength: number, metadataBytes: number): void {
    this.spent += HIT_OVERHEAD_BYTES + idLength + metadataBytes;
    if (this.spent > this.limitBytes) {
      throw new ApiError(
        422,
        'RESPONSE_TOO_LARGE',
        `the answer would pass ${this.limitBytes} bytes of JSON (the response limit); ask for fewer results (k, queries) or keep less metadata`,
        'k',
      );
    }
  }
}

/**
 * One query's search under a label filter over an index that cannot filter. A labelled item sits
 * in its label's bucket, so when no probed bucket is one of the labels nothing can pass and the
 * first answer stands. Otherwise, when fewer than k of the first k hits pass and the probed
 * buckets hold more, one more search takes every candidate of those buckets: at most two scans of
 * the probed buckets per query (what `searchCost` counts), instead of widening k step by step.
 */
export async function searchFiltered(
  search: (k: number) => SearchResult | Promise<SearchResult>,
  k: number,
  labels: ReadonlySet<number>,
): Promise<SearchResult> {
  const first = await search(k);
  const reachable = first.probed === undefined || first.probed.some((p) => labels.has(p.anchor));
  if (!reachable || filterHits(first.hits, labels).length >= k || first.hits.length < k) return first;
  const all = await search(Math.max(k, first.scanned));
  return { ...all, scanned: first.scanned + all.scanned };
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
 * Throws (422) when an id is not well-formed Unicode or two items of one batch share an id, before
 * anything is written: the store would keep what the index refuses (a lone surrogate), and keeping
 * either of two equal ids would silently drop a write the client thinks was made.
 */
export function checkBatchIds(items: readonly { id: string }[]): void {
  const first = new Map<string, number>();
  items.forEach((item, i) => {
    if (!isWellFormedText(item.id)) {
      throw new ApiError(
        422,
        'VALIDATION_FAILED',
        `items[${i}].id ${JSON.stringify(item.id)} is not well-formed Unicode (it holds a lone surrogate)`,
        `items[${i}].id`,
      );
    }
    const seen = first.get(item.id);
    if (seen !== undefined) {
      throw new ApiError(
        422,
        'DUPLICATE_ID',
        `items[${i}].id ${JSON.stringify(item.id)} repeats items[${seen}].id; send each id once per batch`,
        `items[${i}].id`,
      );
    }
    first.set(item.id, i);
  });
}

/** The hits whose label is one of `labels` (all of them without a filter). */
export function filterHits(hits: readonly SearchHit[], labels: ReadonlySet<number> | undefined): SearchHit[] {
  if (!labels) return hits.slice();
  return hits.filter((h) => h.label !== undefined && labels.has(h.label));
}

/** Bucket of each vector: its label when given, else its nearest anchor (as AnchorIndex assigns it, bit for bit). */
export function assignBuckets(
  vectors: Float32Array,
  labels: readonly (number | undefined)[],
  anchors: Float32Array,
  dim: number,
): Int32Array {
  const nearest = labels.some((l) => l === undefined) ? anchorBuckets(vectors, anchors, dim) : undefined;
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
