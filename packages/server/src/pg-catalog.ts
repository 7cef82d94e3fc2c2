import { AnchorageError } from '@anchorage/loss-core';
import type {
  AddBatch,
  ItemId,
  SearchHit,
  SearchOptions,
  SearchResult,
  StoredItem,
} from '@anchorage/retrieval';
import { PgVectorIndex } from '@anchorage/retrieval';
import pg from 'pg';
import type pino from 'pino';
import type { ModelBundle } from './bundle.js';
import {
  type Catalog,
  type CatalogResult,
  type CatalogSearchOptions,
  checkBatchIds,
  filterHits,
  type ItemRecord,
  idKey,
  ResponseBudget,
  type StoredRecord,
  searchFiltered,
} from './catalog.js';
import { ApiError } from './errors.js';

/** The part of retrieval's `PgVectorIndex` the server uses (metadata travels with each row). */
interface PgIndex {
  readonly dim: number;
  readonly classes: number;
  size(): Promise<number>;
  add(batch: AddBatch & { metadata?: readonly unknown[] }): Promise<void>;
  remove(id: ItemId): Promise<void>;
  get(id: ItemId): Promise<(StoredItem & { metadata?: unknown }) | undefined>;
  search(query: Float32Array, options: SearchOptions & { metadata?: boolean }): Promise<SearchResult>;
  searchBatch(
    queries: Float32Array,
    options: SearchOptions & { metadata?: boolean },
  ): Promise<SearchResult[]>;
  getAnchors(): Float32Array;
}

interface PgIndexClass {
  create(client: pg.Client, options: { table: string; dim: number; anchors: Float32Array }): Promise<PgIndex>;
  open(client: pg.Client, options: { table: string }): Promise<PgIndex>;
}

/** Options of `openPgCatalog`. */
export interface PgCatalogOptions {
  /** `postgres://user:password@host:port/database` */
  url: string;
  /** Base table name of the index. */
  table: string;
  bundle: ModelBundle;
  /** Not used with PostgreSQL: the database is the index. */
  indexPath: string | undefined;
  log: pino.Logger;
}

type MetaHit = SearchHit & { metadata?: unknown };

/**
 * PostgreSQL + pgvector storage through retrieval's `PgVectorIndex`: rows partitioned by class,
 * stage 1 in process, stage 2 in SQL. Each write is one transaction, committed before the answer.
 */
export class PgCatalog implements Catalog {
  readonly kind = 'postgres';
  readonly dim: number;
  readonly classes: number;

  constructor(
    private readonly client: pg.Client,
    private readonly index: PgIndex,
  ) {
    this.dim = index.dim;
    this.classes = index.classes;
  }

  async size(): Promise<number> {
    return this.index.size();
  }

  async bucketSizes(): Promise<number[]> {
    const table = (this.index as unknown as { table: string }).table;
    const { rows } = await this.client.query(
      `SELECT class_id, count(*)::int AS n FROM "${table}" GROUP BY class_id`,
    );
    const sizes = new Array<number>(this.classes).fill(0);
    for (const r of rows as { class_id: number; n: number }[]) sizes[r.class_id] = r.n;
    return sizes;
  }

  async put(items: readonly ItemRecord[]): Promise<void> {
    if (items.length === 0) return;
    checkBatchIds(items);
    const unique = items;
    const labeled = unique.filter((it) => it.label !== undefined).length;
    if (labeled !== 0 && labeled !== unique.length) {
      // PgVectorIndex takes labels for a whole batch or none, and one batch is one transaction
      throw new ApiError(
        422,
        'VALIDATION_FAILED',
        'with PostgreSQL storage a batch must be all labelled or all unlabelled; send them as two batches',
        'items',
      );
    }
    const vectors = new Float32Array(unique.length * this.dim);
    unique.forEach((it, i) => {
      vectors.set(it.vector, i * this.dim);
    });
    await this.index.add({
      ids: unique.map((it) => it.id),
      vectors,
      labels: labeled ? unique.map((it) => it.label!) : undefined,
      metadata: unique.map((it) => it.metadata),
    });
  }

  async get(id: string): Promise<StoredRecord | undefined> {
    const item = await this.index.get(id);
    if (!item) return undefined;
    return {
      id: idKey(item.id),
      vector: item.vector,
      label: item.label,
      bucket: item.bucket,
      metadata: item.metadata,
    };
  }

  async remove(id: string): Promise<boolean> {
    try {
      await this.index.remove(id);
      return true;
    } catch (error) {
      if (error instanceof AnchorageError && error.code === 'NOT_FOUND') return false;
      throw error;
    }
  }

  async search(queries: Float32Array, options: CatalogSearchOptions): Promise<CatalogResult[]> {
    const { k, probe } = options;
    const budget = new ResponseBudget(options.maxResponseBytes);
    if (!options.labels) {
      const results = await this.index.searchBatch(queries, { k, probe, metadata: true });
      return results.map((r) => this.present(r, k, undefined, budget));
    }
    const labels = new Set(options.labels);
    const out: CatalogResult[] = [];
    for (let q = 0; q < queries.length / this.dim; q++) {
      const query = queries.subarray(q * this.dim, (q + 1) * this.dim);
      const result = await searchFiltered(
        (wide) => this.index.search(query, { k: wide, probe, metadata: true }),
        k,
        labels,
      );
      out.push(this.present(result, k, labels, budget));
    }
    return out;
  }

  private present(
    result: SearchResult,
    k: number,
    labels: ReadonlySet<number> | undefined,
    budget: ResponseBudget,
  ): CatalogResult {
    return {
      hits: (filterHits(result.hits, labels) as MetaHit[]).slice(0, k).map((h) => {
        const id = idKey(h.id);
        // the driver has parsed the metadata already; its JSON length is what the answer will carry
        budget.spend(id.length, h.metadata === undefined ? 4 : JSON.stringify(h.metadata).length);
        return { id, distance: h.distance, label: h.label, bucket: h.bucket, metadata: h.metadata };
      }),
      scanned: result.scanned,
      probed: result.probed ?? [],
    };
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/**
 * Connects to PostgreSQL (pgvector installed) and opens the index table, creating it on first use
 * with the bundle's anchors; an existing table built for other anchors is refused.
 */
export async function openPgCatalog(options: PgCatalogOptions): Promise<PgCatalog> {
  const indexClass: PgIndexClass = PgVectorIndex;
  if (options.indexPath) options.log.warn('--index is ignored with --store: the database is the index');
  const { bundle, table } = options;
  const client = new pg.Client({ connectionString: options.url });
  try {
    await client.connect();
  } catch (cause) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `cannot connect to ${redact(options.url)}: ${(cause as Error).message}`,
      {
        argument: 'store',
        value: redact(options.url),
      },
    );
  }
  try {
    const { rows } = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [
      `"${table}_anchors"`,
    ]);
    let index: PgIndex;
    if (rows[0]?.found) {
      index = await indexClass.open(client, { table });
      const anchors = index.getAnchors();
      const same =
        index.dim === bundle.dim &&
        anchors.length === bundle.anchors.length &&
        anchors.every((a, i) => Math.abs(a - bundle.anchors[i]!) <= 1e-6 * Math.max(1, Math.abs(a)));
      if (!same) {
        throw new AnchorageError(
          'INVALID_ARGUMENT',
          `table ${table} was created for other anchors (dim ${index.dim}); use its bundle or another --table`,
          { argument: 'table', value: table },
        );
      }
    } else {
      index = await indexClass.create(client, { table, dim: bundle.dim, anchors: bundle.anchors });
      options.log.info({ table }, 'created the index tables');
    }
    return new PgCatalog(client, index);
  } catch (error) {
    await client.end().catch(() => undefined);
    throw error;
  }
}

function redact(url: string): string {
  return url.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@');
}
