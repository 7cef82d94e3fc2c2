import { AnchorageError, nearestAnchors } from '@anchorage/loss-core';
import type {
  AddBatch,
  AsyncVectorIndex,
  ItemId,
  SearchHit,
  SearchOptions,
  SearchResult,
  StoredItem,
} from '../types.js';
import { checkSearchOptions, checkVectors } from '../validate.js';
import { checkPgBatch, checkPgId, checkQuery } from './validate.js';

/**
 * The part of a PostgreSQL client the index needs: `pg`'s `Client` or `PoolClient`, or a `PGlite`
 * database, all fit. It must be ONE session (not a `pg.Pool`): writes run `BEGIN` … `COMMIT` through it.
 */
export interface SqlClient {
  // biome-ignore lint/suspicious/noExplicitAny: rows are read column by column and converted
  query(text: string, params?: any[]): Promise<{ rows: any[] }>;
}

/** A JSON value stored in the `metadata` jsonb column. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

/** A batch for `PgVectorIndex.add`: `AddBatch` plus optional per-item JSON metadata. */
export interface PgAddBatch extends AddBatch {
  metadata?: readonly (JsonValue | undefined)[];
}

/** A stored item of a `PgVectorIndex`, with its metadata when it has some. */
export interface PgStoredItem extends StoredItem {
  metadata?: JsonValue;
}

/** Search options of `PgVectorIndex`: `SearchOptions` plus `metadata: true` to return each hit's metadata. */
export interface PgSearchOptions extends SearchOptions {
  metadata?: boolean;
}

/** A hit of `PgVectorIndex.search`, with metadata when asked for. */
export interface PgSearchHit extends SearchHit {
  metadata?: JsonValue;
}

/** The answer of `PgVectorIndex.search`. */
export interface PgSearchResult extends SearchResult {
  hits: PgSearchHit[];
}

/** Options of `PgVectorIndex.create`. */
export interface PgVectorIndexCreateOptions {
  /** Base name: tables `<table>` (items), `<table>_c<class>` (partitions), `<table>_anchors`, sequence `<table>_seq`. */
  table: string;
  /** Vector dimension d. */
  dim: number;
  /** C×d row-major class anchors; C partitions are created, one per class. */
  anchors: Float32Array;
  /** Distribute the items by `class_id` with Citus (`create_distributed_table`) and make the anchors a reference table. */
  citus?: boolean;
}

/** Options of `PgVectorIndex.open`. */
export interface PgVectorIndexOpenOptions {
  table: string;
  /** The index was created with `citus: true` (batch searches then run one statement per query). */
  citus?: boolean;
}

/**
 * How stage 2 orders rows. `exact` (default): by squared distance, ties by insertion order; an exact
 * scan of the probed partitions. `index`: `ORDER BY embedding <-> q` alone, which lets PostgreSQL use
 * an HNSW/IVFFlat index on the partitions (approximate; ties in no particular order).
 */
export type PgOrder = 'exact' | 'index';

const TABLE_NAME = /^[a-z_][a-z0-9_]{0,40}$/;
/** Rows per INSERT statement: about 4 MB of vector text per statement at d = 128. */
const INSERT_ROWS_BYTES = 4_000_000;

function ident(name: string): string {
  return `"${name}"`;
}

/**
 * pgvector's text form. `String` of a float32 value parses back (strtof) to the same float32;
 * only the sign of zero needs help (`String(-0)` is `'0'`).
 */
function vectorLiteral(vectors: Float32Array, offset: number, dim: number): string {
  let text = '[';
  for (let j = 0; j < dim; j++) {
    const v = vectors[offset + j]!;
    text += (j === 0 ? '' : ',') + (v === 0 && 1 / v < 0 ? '-0' : String(v));
  }
  return `${text}]`;
}

function parseVector(text: string, dim: number): Float32Array {
  const parts = text.slice(1, -1).split(',');
  const out = new Float32Array(dim);
  for (let j = 0; j < dim; j++) out[j] = Number(parts[j]);
  return out;
}

function toId(id: string, isNumber: boolean): ItemId {
  return isNumber ? Number(id) : id;
}

interface HitRow {
  id: string;
  id_is_number: boolean;
  label: number | null;
  class_id: number;
  distance: number;
  seq: string | number;
  metadata?: JsonValue | null;
  rank?: number;
  /** Items in the probed partitions (repeated on every row of a query). */
  scanned: number | string;
}

/**
 * The two-stage index with stage 2 in PostgreSQL + pgvector. Stage 1 (the `probe` nearest of the
 * C anchors) runs in process; stage 2 ranks, in SQL, only the partitions of the probed classes:
 * `WHERE class_id = ANY($1) ORDER BY embedding <-> $2 LIMIT $3`. Distances are squared L2,
 * computed by pgvector in float32 (see the README). Same contract as `AnchorIndex`, asynchronous.
 * @example
 * const db = await PGlite.create({ extensions: { vector } });
 * const index = await PgVectorIndex.create(db, { table: 'items', dim: 128, anchors });
 * await index.add({ ids: ['a', 'b'], vectors, labels: [3, 7] });
 * const { hits } = await index.search(query, { k: 10, probe: 2 });
 */
export class PgVectorIndex implements AsyncVectorIndex {
  readonly dim: number;
  /** Number of classes C (= anchors). */
  readonly classes: number;
  readonly table: string;
  private readonly anchors: Float32Array;
  private readonly client: SqlClient;
  private readonly citus: boolean;
  /** Stage-2 ordering; see `PgOrder`. */
  order: PgOrder = 'exact';
  // One session: statements of concurrent calls must not interleave with a write's transaction.
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(client: SqlClient, table: string, dim: number, anchors: Float32Array, citus: boolean) {
    this.client = client;
    this.table = table;
    this.dim = dim;
    this.anchors = anchors;
    this.classes = anchors.length / dim;
    this.citus = citus;
  }

  /** Creates the tables (and the `vector` extension if missing) and stores the anchors. */
  static async create(client: SqlClient, options: PgVectorIndexCreateOptions): Promise<PgVectorIndex> {
    const { table, dim, anchors, citus = false } = options;
    checkTableName(table);
    if (!Number.isSafeInteger(dim) || dim < 1 || dim > 16_000) {
      throw new AnchorageError('INVALID_ARGUMENT', `dim must be an integer in 1..16000; got ${dim}`, {
        argument: 'dim',
        value: dim,
      });
    }
    if (!(anchors instanceof Float32Array) || anchors.length === 0 || anchors.length % dim !== 0) {
      throw new AnchorageError('DIMENSION_MISMATCH', `anchors must be a non-empty C×${dim} Float32Array`, {
        argument: 'anchors',
        value: anchors?.length,
      });
    }
    for (let i = 0; i < anchors.length; i++) {
      if (!Number.isFinite(anchors[i]!)) {
        throw new AnchorageError('NON_FINITE', `anchors[${i}] is ${anchors[i]}`, {
          argument: 'anchors',
          value: anchors[i],
        });
      }
    }
    const exists = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [ident(table)]);
    if (exists.rows[0]?.found) {
      throw new AnchorageError('INVALID_ARGUMENT', `table ${table} already exists; open it instead`, {
        argument: 'table',
        value: table,
      });
    }
    const index = new PgVectorIndex(client, table, dim, anchors.slice(), citus);
    await client.query('CREATE EXTENSION IF NOT EXISTS vector');
    await index.transaction(async () => {
      for (const statement of createStatements(table, dim, index.classes)) await client.query(statement);
      const literals: string[] = [];
      for (let c = 0; c < index.classes; c++) literals.push(vectorLiteral(anchors, c * dim, dim));
      await client.query(
        `INSERT INTO ${ident(`${table}_anchors`)} (class_id, anchor)
         SELECT ord - 1, a::vector FROM unnest($1::text[]) WITH ORDINALITY AS u(a, ord)`,
        [literals],
      );
    });
    if (citus) {
      await client.query('SELECT create_reference_table($1)', [`${table}_anchors`]);
      await client.query(`SELECT create_distributed_table($1, 'class_id')`, [table]);
    }
    return index;
  }

  /** Opens an index created earlier, reading its anchors (and so dim and C) from the database. */
  static async open(client: SqlClient, options: PgVectorIndexOpenOptions): Promise<PgVectorIndex> {
    const { table, citus = false } = options;
    checkTableName(table);
    const found = await client.query('SELECT to_regclass($1) IS NOT NULL AS found', [
      ident(`${table}_anchors`),
    ]);
    if (!found.rows[0]?.found) {
      throw new AnchorageError('NOT_FOUND', `no anchors table for index ${table}`, {
        argument: 'table',
        value: table,
      });
    }
    const { rows } = await client.query(
      `SELECT class_id, anchor::text AS anchor FROM ${ident(`${table}_anchors`)} ORDER BY class_id`,
    );
    if (rows.length === 0)
      throw new AnchorageError('CORRUPT_FILE', `index ${table} has no anchors`, {
        argument: 'table',
        value: table,
      });
    const dim = (rows[0].anchor as string).split(',').length;
    const anchors = new Float32Array(rows.length * dim);
    rows.forEach((row, c) => {
      if (row.class_id !== c) {
        throw new AnchorageError('CORRUPT_FILE', `anchors of ${table} are not numbered 0..C-1`, {
          argument: 'table',
          value: table,
        });
      }
      anchors.set(parseVector(row.anchor, dim), c * dim);
    });
    return new PgVectorIndex(client, table, dim, anchors, citus);
  }

  /** A copy of the C×d anchors. */
  getAnchors(): Float32Array {
    return this.anchors.slice();
  }

  /** Drops the index's tables and sequence. */
  async drop(): Promise<void> {
    await this.serial(async () => {
      await this.client.query(`DROP TABLE IF EXISTS ${this.itemsTable} CASCADE`);
      await this.client.query(`DROP TABLE IF EXISTS ${ident(`${this.table}_anchors`)}`);
      await this.client.query(`DROP SEQUENCE IF EXISTS ${ident(`${this.table}_seq`)}`);
    });
  }

  async size(): Promise<number> {
    return this.serial(async () => {
      const { rows } = await this.client.query(`SELECT count(*)::float8 AS n FROM ${this.itemsTable}`);
      return Number(rows[0].n);
    });
  }

  /**
   * Adds (or replaces, by id) a batch in one transaction: all rows or none. An item's class is its
   * label when given, else its nearest anchor.
   */
  async add(batch: PgAddBatch): Promise<void> {
    const labels = checkPgBatch(batch, this.dim, this.classes);
    const { ids, vectors, metadata } = batch;
    if (metadata !== undefined && (!Array.isArray(metadata) || metadata.length !== ids.length)) {
      throw new AnchorageError('DIMENSION_MISMATCH', `metadata must have one entry per id (${ids.length})`, {
        argument: 'metadata',
        value: metadata?.length,
      });
    }
    const n = ids.length;
    if (n === 0) return;
    const metadataText = metadata?.map((m, i) => {
      if (m === undefined) return null;
      try {
        return JSON.stringify(m);
      } catch (cause) {
        throw new AnchorageError('INVALID_ARGUMENT', `metadata[${i}] is not JSON`, {
          argument: 'metadata',
          value: m,
          cause,
        });
      }
    });
    const buckets =
      labels === undefined ? nearestAnchors(vectors, this.anchors, this.dim, 1).indices : labels;
    const keys = ids.map(String);
    const isNumber = ids.map((id) => typeof id === 'number');
    const perStatement = Math.max(1, Math.floor(INSERT_ROWS_BYTES / (this.dim * 12)));
    await this.serial(() =>
      this.transaction(async () => {
        await this.client.query(
          `DELETE FROM ${this.itemsTable} t USING unnest($1::text[], $2::bool[]) AS u(id, id_is_number)
           WHERE t.id = u.id AND t.id_is_number = u.id_is_number`,
          [keys, isNumber],
        );
        for (let start = 0; start < n; start += perStatement) {
          const end = Math.min(n, start + perStatement);
          const embeddings: string[] = [];
          for (let i = start; i < end; i++) embeddings.push(vectorLiteral(vectors, i * this.dim, this.dim));
          await this.client.query(
            `INSERT INTO ${this.itemsTable} (class_id, id, id_is_number, label, embedding, metadata)
             SELECT c, i, b, l, e::vector, m::jsonb
             FROM unnest($1::int[], $2::text[], $3::bool[], $4::int[], $5::text[], $6::text[])
               WITH ORDINALITY AS u(c, i, b, l, e, m, ord)
             ORDER BY ord`,
            [
              Array.from(buckets.subarray(start, end)),
              keys.slice(start, end),
              isNumber.slice(start, end),
              labels === undefined
                ? new Array(end - start).fill(null)
                : Array.from(labels.subarray(start, end)),
              embeddings,
              metadataText === undefined ? new Array(end - start).fill(null) : metadataText.slice(start, end),
            ],
          );
        }
      }),
    );
  }

  /** Removes an item; `NOT_FOUND` (and nothing changes) when the id is unknown. */
  async remove(id: ItemId): Promise<void> {
    checkPgId(id, 'id');
    const { rows } = await this.serial(() =>
      this.client.query(
        `DELETE FROM ${this.itemsTable} WHERE id = $1 AND id_is_number = $2 RETURNING 1 AS gone`,
        [String(id), typeof id === 'number'],
      ),
    );
    if (rows.length === 0)
      throw new AnchorageError('NOT_FOUND', `no item with id ${String(id)}`, { argument: 'id', value: id });
  }

  async get(id: ItemId): Promise<PgStoredItem | undefined> {
    checkPgId(id, 'id');
    const { rows } = await this.serial(() =>
      this.client.query(
        `SELECT id, id_is_number, label, class_id, embedding::text AS embedding, metadata::text AS metadata
         FROM ${this.itemsTable} WHERE id = $1 AND id_is_number = $2`,
        [String(id), typeof id === 'number'],
      ),
    );
    return rows.length === 0 ? undefined : this.toItem(rows[0]);
  }

  async has(id: ItemId): Promise<boolean> {
    checkPgId(id, 'id');
    const { rows } = await this.serial(() =>
      this.client.query(`SELECT 1 AS found FROM ${this.itemsTable} WHERE id = $1 AND id_is_number = $2`, [
        String(id),
        typeof id === 'number',
      ]),
    );
    return rows.length > 0;
  }

  /** Iterates the items in insertion order, fetching `pageSize` rows per statement. */
  async *items(pageSize = 1000): AsyncIterableIterator<PgStoredItem> {
    let after = '-1';
    for (;;) {
      const { rows } = await this.serial(() =>
        this.client.query(
          `SELECT id, id_is_number, label, class_id, embedding::text AS embedding, metadata::text AS metadata,
                  seq
           FROM ${this.itemsTable} WHERE seq > $1::bigint ORDER BY seq LIMIT $2`,
          [after, pageSize],
        ),
      );
      for (const row of rows) yield this.toItem(row);
      if (rows.length < pageSize) return;
      after = String(rows[rows.length - 1].seq);
    }
  }

  /** Stage 1 in process, stage 2 in one SQL statement over the probed partitions. */
  async search(query: Float32Array, options: PgSearchOptions = {}): Promise<PgSearchResult> {
    checkQuery(query, this.dim);
    const { k, probe } = checkSearchOptions(options, this.classes);
    const stage1 = nearestAnchors(query, this.anchors, this.dim, options.fullRanking ? this.classes : probe);
    const order = Array.from(stage1.indices);
    const probed = order.slice(0, probe);
    const { rows } = await this.serial(() =>
      this.client.query(this.searchSql(options, '$2::int[]', '$1::vector', '$3', '$4::int[]'), [
        vectorLiteral(query, 0, this.dim),
        probed,
        k,
        // pg refuses a parameter the statement does not use
        ...(options.fullRanking ? [order] : []),
      ]),
    );
    return this.toResult(rows, probed, stage1.distances, options);
  }

  /** One statement for the whole batch (a LATERAL join over the queries); with Citus, one per query. */
  async searchBatch(queries: Float32Array, options: PgSearchOptions = {}): Promise<PgSearchResult[]> {
    checkVectors(queries, this.dim, 'queries');
    const { k, probe } = checkSearchOptions(options, this.classes);
    const q = queries.length / this.dim;
    if (q === 0) return [];
    if (this.citus) {
      const out: PgSearchResult[] = [];
      for (let i = 0; i < q; i++)
        out.push(await this.search(queries.subarray(i * this.dim, (i + 1) * this.dim), options));
      return out;
    }
    const width = options.fullRanking ? this.classes : probe;
    const stage1 = nearestAnchors(queries, this.anchors, this.dim, width);
    const vectorsText: string[] = [];
    const probedText: string[] = [];
    const orderText: string[] = [];
    for (let i = 0; i < q; i++) {
      vectorsText.push(vectorLiteral(queries, i * this.dim, this.dim));
      const order = Array.from(stage1.indices.subarray(i * width, (i + 1) * width));
      probedText.push(`{${order.slice(0, probe).join(',')}}`);
      orderText.push(`{${order.join(',')}}`);
    }
    const { rows } = await this.serial(() =>
      this.client.query(
        // MATERIALIZED: parse each query vector once, not once per compared row.
        `WITH q AS MATERIALIZED (
           SELECT v::vector AS v, p::int[] AS p, o::int[] AS o, ord::int AS ord
           FROM unnest($1::text[], $2::text[], $4::text[]) WITH ORDINALITY AS u(v, p, o, ord))
         SELECT q.ord AS query, h.* FROM q
         CROSS JOIN LATERAL (${this.searchSql(options, 'q.p', 'q.v', '$3', 'q.o')}) h`,
        [vectorsText, probedText, k, orderText],
      ),
    );
    const perQuery: HitRow[][] = Array.from({ length: q }, () => []);
    for (const row of rows) perQuery[row.query - 1]!.push(row);
    return perQuery.map((hits, i) =>
      this.toResult(
        hits,
        Array.from(stage1.indices.subarray(i * width, i * width + probe)),
        stage1.distances.subarray(i * width, (i + 1) * width),
        options,
      ),
    );
  }

  private get itemsTable(): string {
    return ident(this.table);
  }

  /**
   * Stage 2 for one query. The item count of the probed partitions rides along as `scanned` (an
   * uncorrelated sub-select, run once); a LEFT JOIN keeps it when the partitions are empty.
   */
  private searchSql(
    options: PgSearchOptions,
    probed: string,
    vector: string,
    k: string,
    order: string,
  ): string {
    const meta = options.metadata ? ', metadata::text AS metadata' : '';
    const distance = `vector_l2_squared_distance(embedding, ${vector})`;
    if (options.fullRanking) {
      // Probed buckets first, merged by distance; then each other bucket in anchor order.
      const rank = `CASE WHEN class_id = ANY(${probed}) THEN 0 ELSE array_position(${order}, class_id) END`;
      return `SELECT s.scanned, h.* FROM (SELECT count(*)::float8 AS scanned FROM ${this.itemsTable}) s
        LEFT JOIN LATERAL (
          SELECT id, id_is_number, label, class_id, ${distance} AS distance, seq, ${rank} AS rank${meta}
          FROM ${this.itemsTable} ORDER BY rank, distance, seq LIMIT ${k}) h ON true`;
    }
    const orderBy = this.order === 'exact' ? 'distance, seq' : `embedding <-> ${vector}`;
    return `SELECT s.scanned, h.* FROM
        (SELECT count(*)::float8 AS scanned FROM ${this.itemsTable} WHERE class_id = ANY(${probed})) s
      LEFT JOIN LATERAL (
        SELECT id, id_is_number, label, class_id, ${distance} AS distance, seq${meta}
        FROM ${this.itemsTable} WHERE class_id = ANY(${probed}) ORDER BY ${orderBy} LIMIT ${k}) h ON true`;
  }

  private toResult(
    rows: HitRow[],
    probed: number[],
    anchorDistances: Float32Array,
    options: PgSearchOptions,
  ): PgSearchResult {
    const present = rows.filter((row) => row.id !== null);
    // A batch's rows come back per query in no guaranteed order; restore the statement's order.
    present.sort(
      (a, b) => (a.rank ?? 0) - (b.rank ?? 0) || a.distance - b.distance || Number(a.seq) - Number(b.seq),
    );
    const hits = present.map((row) => {
      const hit: PgSearchHit = {
        id: toId(row.id, row.id_is_number),
        distance: row.distance,
        label: row.label ?? undefined,
        bucket: row.class_id,
      };
      if (options.metadata && row.metadata != null) hit.metadata = JSON.parse(row.metadata as string);
      return hit;
    });
    return {
      hits,
      scanned: Number(rows[0]?.scanned ?? 0),
      probed: probed.map((anchor, i) => ({ anchor, distance: anchorDistances[i]! })),
    };
  }

  private toItem(row: {
    id: string;
    id_is_number: boolean;
    label: number | null;
    class_id: number;
    embedding: string;
    metadata: string | null;
  }): PgStoredItem {
    const item: PgStoredItem = {
      id: toId(row.id, row.id_is_number),
      vector: parseVector(row.embedding, this.dim),
      label: row.label ?? undefined,
      bucket: row.class_id,
    };
    if (row.metadata !== null) item.metadata = JSON.parse(row.metadata);
    return item;
  }

  private serial<T>(work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work, work);
    this.queue = run.catch(() => undefined);
    return run;
  }

  private async transaction(work: () => Promise<void>): Promise<void> {
    await this.client.query('BEGIN');
    try {
      await work();
    } catch (error) {
      await this.client.query('ROLLBACK');
      throw error;
    }
    await this.client.query('COMMIT');
  }
}

function checkTableName(table: string): void {
  if (typeof table !== 'string' || !TABLE_NAME.test(table)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'table must match /^[a-z_][a-z0-9_]{0,40}$/', {
      argument: 'table',
      value: table,
    });
  }
}

/** The DDL of an index: items partitioned by class, one partition per class, anchors, a sequence. */
export function createStatements(table: string, dim: number, classes: number): string[] {
  const items = ident(table);
  const statements = [
    `CREATE SEQUENCE ${ident(`${table}_seq`)}`,
    `CREATE TABLE ${ident(`${table}_anchors`)} (
      class_id integer PRIMARY KEY,
      anchor vector(${dim}) NOT NULL)`,
    `CREATE TABLE ${items} (
      class_id integer NOT NULL,
      id text NOT NULL,
      id_is_number boolean NOT NULL,
      label integer,
      seq bigint NOT NULL DEFAULT nextval('${table}_seq'),
      embedding vector(${dim}) NOT NULL,
      metadata jsonb,
      PRIMARY KEY (class_id, id, id_is_number)
    ) PARTITION BY LIST (class_id)`,
    `CREATE INDEX ${ident(`${table}_id`)} ON ${items} (id, id_is_number)`,
    `CREATE INDEX ${ident(`${table}_seq_order`)} ON ${items} (seq)`,
  ];
  for (let c = 0; c < classes; c++) {
    statements.push(`CREATE TABLE ${ident(`${table}_c${c}`)} PARTITION OF ${items} FOR VALUES IN (${c})`);
  }
  return statements;
}
