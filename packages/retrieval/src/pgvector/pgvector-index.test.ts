import { AnchorageError } from '@anchorage/loss-core';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runConformanceSuite } from '../conformance.case.js';
import type { ItemId } from '../types.js';
import { PgVectorIndex, type SqlClient } from './pgvector-index.js';

// Starting the wasm database takes seconds on a busy machine; the queries themselves are fast.

let db: PGlite;
let tables = 0;
const nextTable = () => `conf_${++tables}`;

beforeAll(async () => {
  db = await PGlite.create({ extensions: { vector } });
});

afterAll(async () => {
  await db?.close();
});

runConformanceSuite(
  'PgVectorIndex (PGlite)',
  async ({ dim, anchors }) => PgVectorIndex.create(db, { table: nextTable(), dim, anchors }),
  {
    twoStage: true,
    fullRanking: true,
    stableTies: true,
    // pgvector sums squared differences in float32; the reference sums in float64.
    distanceTolerance: 1e-5,
    dispose: async (index) => (index as PgVectorIndex).drop(),
  },
);

/** n×dim vectors from a small deterministic formula (no two equal). */
function vectors(n: number, dim: number, offset = 0): Float32Array {
  const out = new Float32Array(n * dim);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround(Math.sin(i * 1.7 + offset) * 3);
  return out;
}

function anchorsOnAxes(classes: number, dim: number): Float32Array {
  const anchors = new Float32Array(classes * dim);
  for (let c = 0; c < classes; c++) anchors[c * dim + c] = 5;
  return anchors;
}

function naiveSquared(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) s += (a[j]! - b[j]!) ** 2;
  return s;
}

describe('PgVectorIndex storage', () => {
  it('creates one list partition per class and reopens from the anchors table', async () => {
    const table = nextTable();
    const anchors = anchorsOnAxes(3, 4);
    const index = await PgVectorIndex.create(db, { table, dim: 4, anchors });
    const parts = await db.query<{ name: string; bound: string }>(
      `SELECT c.relname AS name, pg_get_expr(c.relpartbound, c.oid) AS bound
       FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
       WHERE i.inhparent = $1::regclass ORDER BY c.relname`,
      [table],
    );
    expect(parts.rows).toEqual([
      { name: `${table}_c0`, bound: 'FOR VALUES IN (0)' },
      { name: `${table}_c1`, bound: 'FOR VALUES IN (1)' },
      { name: `${table}_c2`, bound: 'FOR VALUES IN (2)' },
    ]);
    await index.add({ ids: ['a', 7], vectors: vectors(2, 4), labels: [2, 0] });
    const counts = await db.query<{ c: number }>(`SELECT count(*)::int AS c FROM ${table}_c2`);
    expect(counts.rows[0]!.c).toBe(1);

    const reopened = await PgVectorIndex.open(db, { table });
    expect(reopened.dim).toBe(4);
    expect(reopened.classes).toBe(3);
    expect(Array.from(reopened.getAnchors())).toEqual(Array.from(anchors));
    expect(await reopened.size()).toBe(2);
    expect((await reopened.get(7))!.bucket).toBe(0);
    await expect(PgVectorIndex.create(db, { table, dim: 4, anchors })).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      argument: 'table',
    });
    await expect(PgVectorIndex.open(db, { table: 'absent' })).rejects.toMatchObject({ code: 'NOT_FOUND' });
    await expect(PgVectorIndex.create(db, { table: 'Bad-Name', dim: 4, anchors })).rejects.toBeInstanceOf(
      AnchorageError,
    );
    await index.drop();
  });

  it('round-trips float32 vectors bit for bit and ids with their type', async () => {
    const dim = 6;
    const index = await PgVectorIndex.create(db, { table: nextTable(), dim, anchors: anchorsOnAxes(2, dim) });
    const data = new Float32Array([
      0.1,
      -1e-30,
      3.4028234663852886e38,
      1 / 3,
      -0,
      1e-45,
      123456.789,
      -7.25,
      2 ** -20,
      0,
      1,
      -1,
    ]);
    const ids: ItemId[] = [Number.MAX_SAFE_INTEGER, '9007199254740991'];
    await index.add({ ids, vectors: data });
    for (let i = 0; i < 2; i++) {
      const item = await index.get(ids[i]!);
      expect(item!.id).toBe(ids[i]);
      expect(new Uint32Array(item!.vector.buffer)).toEqual(
        new Uint32Array(data.slice(i * dim, (i + 1) * dim).buffer),
      );
    }
    await index.drop();
  });

  it('returns squared L2 within float32 rounding of a float64 computation', async () => {
    const dim = 32;
    const index = await PgVectorIndex.create(db, { table: nextTable(), dim, anchors: anchorsOnAxes(4, dim) });
    const data = vectors(50, dim);
    await index.add({ ids: Array.from({ length: 50 }, (_, i) => i), vectors: data });
    const query = vectors(1, dim, 0.5);
    const result = await index.search(query, { k: 50, probe: 4 });
    expect(result.hits.length).toBe(50);
    for (const hit of result.hits) {
      const want = naiveSquared(
        query,
        data.subarray((hit.id as number) * dim, ((hit.id as number) + 1) * dim),
      );
      expect(Math.abs(hit.distance - want) / want).toBeLessThan(1e-6);
    }
    await index.drop();
  });

  it('a batch that fails inside the database changes nothing', async () => {
    const dim = 4;
    const anchors = anchorsOnAxes(2, dim);
    const table = nextTable();
    await PgVectorIndex.create(db, { table, dim, anchors });
    let failInsert = false;
    const flaky: SqlClient = {
      query: async (text, params) => {
        if (failInsert && text.trimStart().startsWith('INSERT')) throw new Error('connection lost');
        return db.query(text, params);
      },
    };
    const index = await PgVectorIndex.open(flaky, { table });
    await index.add({ ids: ['keep', 'replace'], vectors: vectors(2, dim), labels: [0, 1] });
    failInsert = true;
    await expect(
      index.add({ ids: ['replace', 'new'], vectors: vectors(2, dim, 9), labels: [0, 0] }),
    ).rejects.toThrow('connection lost');
    failInsert = false;
    expect(await index.size()).toBe(2);
    expect(await index.has('new')).toBe(false);
    const replaced = await index.get('replace');
    expect(Array.from(replaced!.vector)).toEqual(Array.from(vectors(2, dim).subarray(dim)));
    expect(replaced!.bucket).toBe(1);
    // The session is usable again: the transaction was rolled back, not left open.
    await index.add({ ids: ['new'], vectors: vectors(1, dim, 9), labels: [0] });
    expect(await index.size()).toBe(3);
    await index.drop();
  });

  it('large batches are split into several INSERT statements in one transaction', async () => {
    // At d = 512 a statement carries about 650 rows, so 1,500 rows take three.
    const dim = 512;
    const table = nextTable();
    await PgVectorIndex.create(db, { table, dim, anchors: anchorsOnAxes(3, dim) });
    const statements: string[] = [];
    const recorder: SqlClient = {
      query: async (text, params) => {
        statements.push(text.trim().split(/\s+/)[0]!);
        return db.query(text, params);
      },
    };
    const index = await PgVectorIndex.open(recorder, { table });
    const n = 1500;
    statements.length = 0;
    await index.add({ ids: Array.from({ length: n }, (_, i) => i), vectors: vectors(n, dim) });
    expect(statements).toEqual(['BEGIN', 'DELETE', 'INSERT', 'INSERT', 'INSERT', 'COMMIT']);
    expect(await index.size()).toBe(n);
    let last = -1;
    for await (const item of index.items(400)) {
      expect(item.id).toBe(last + 1);
      last = item.id as number;
    }
    expect(last).toBe(n - 1);
    await index.drop();
  });

  it('orders equal distances by insertion, numerically past ten items', async () => {
    const dim = 12;
    const index = await PgVectorIndex.create(db, { table: nextTable(), dim, anchors: anchorsOnAxes(2, dim) });
    const n = 12;
    const data = new Float32Array(n * dim);
    for (let i = 0; i < n; i++) data[i * dim + ((i * 5) % dim)] = i % 2 === 0 ? 2 : -2;
    const ids = Array.from({ length: n }, (_, i) => `t${(i * 7) % n}`);
    await index.add({ ids, vectors: data, labels: new Array(n).fill(1) });
    const { hits } = await index.search(new Float32Array(dim), { k: n, probe: 2 });
    expect(hits.map((h) => h.distance)).toEqual(new Array(n).fill(4));
    expect(hits.map((h) => h.id)).toEqual(ids);
    await index.drop();
  });

  it('stores and returns JSON metadata', async () => {
    const dim = 4;
    const index = await PgVectorIndex.create(db, { table: nextTable(), dim, anchors: anchorsOnAxes(2, dim) });
    await index.add({
      ids: ['img-1', 'img-2'],
      vectors: vectors(2, dim),
      labels: [0, 0],
      metadata: [{ path: 'a/b.jpg', tags: ['x'] }, undefined],
    });
    expect((await index.get('img-1'))!.metadata).toEqual({ path: 'a/b.jpg', tags: ['x'] });
    expect((await index.get('img-2'))!.metadata).toBeUndefined();
    const { hits } = await index.search(vectors(1, dim), { k: 2, probe: 2, metadata: true });
    expect(hits.find((h) => h.id === 'img-1')!.metadata).toEqual({ path: 'a/b.jpg', tags: ['x'] });
    await expect(
      index.add({ ids: ['img-3'], vectors: vectors(1, dim), metadata: [1, 2] as never }),
    ).rejects.toMatchObject({ code: 'DIMENSION_MISMATCH', argument: 'metadata' });
    await index.drop();
  });

  it("'index' order uses pgvector's <-> ordering and agrees with the exact order on distinct distances", async () => {
    const dim = 8;
    const index = await PgVectorIndex.create(db, { table: nextTable(), dim, anchors: anchorsOnAxes(3, dim) });
    await index.add({ ids: Array.from({ length: 60 }, (_, i) => `v${i}`), vectors: vectors(60, dim) });
    const query = vectors(1, dim, 2);
    const exact = await index.search(query, { k: 15, probe: 2 });
    index.order = 'index';
    const viaOperator = await index.search(query, { k: 15, probe: 2 });
    expect(viaOperator).toEqual(exact);
    await index.drop();
  });
});

describe('PgVectorIndex under concurrent calls', () => {
  type Op =
    | { kind: 'add'; ids: ItemId[]; vectors: Float32Array; labels?: number[]; metadata?: unknown[] }
    | { kind: 'remove'; id: ItemId }
    | { kind: 'search'; query: Float32Array; k: number; probe: number; fullRanking: boolean }
    | { kind: 'get'; id: ItemId }
    | { kind: 'size' };

  /** A seeded script of calls: replacing adds, removals of present and absent ids, searches. */
  function script(count: number, dim: number, classes: number): Op[] {
    let state = 12345;
    const rand = () => {
      state = (Math.imul(state, 1103515245) + 12345) >>> 0;
      return state / 2 ** 32;
    };
    const pick = () => {
      const n = Math.floor(rand() * 24);
      return n % 3 === 0 ? n : `id-${n}`;
    };
    const point = () => Float32Array.from({ length: dim }, () => Math.fround(rand() * 10 - 3));
    const ops: Op[] = [];
    for (let i = 0; i < count; i++) {
      const r = rand();
      if (r < 0.4) {
        const ids = [...new Set(Array.from({ length: 1 + Math.floor(rand() * 4) }, pick))];
        const vectors = new Float32Array(ids.length * dim);
        for (let j = 0; j < ids.length; j++) vectors.set(point(), j * dim);
        const labels = rand() < 0.5 ? ids.map(() => Math.floor(rand() * classes)) : undefined;
        // every fifth add fails inside the database (jsonb cannot hold U+0000), after its DELETE ran
        const metadata =
          i % 5 === 0 ? ids.map((_, j) => (j === ids.length - 1 ? { s: '\u0000' } : { i })) : undefined;
        ops.push({ kind: 'add', ids, vectors, labels, metadata });
      } else if (r < 0.6) ops.push({ kind: 'remove', id: pick() });
      else if (r < 0.9) {
        ops.push({
          kind: 'search',
          query: point(),
          k: 1 + Math.floor(rand() * 6),
          probe: 1 + Math.floor(rand() * classes),
          fullRanking: rand() < 0.3,
        });
      } else if (r < 0.95) ops.push({ kind: 'get', id: pick() });
      else ops.push({ kind: 'size' });
    }
    return ops;
  }

  async function call(index: PgVectorIndex, op: Op): Promise<unknown> {
    switch (op.kind) {
      case 'add':
        await index.add({
          ids: op.ids,
          vectors: op.vectors,
          labels: op.labels,
          metadata: op.metadata as never,
        });
        return 'added';
      case 'remove':
        await index.remove(op.id);
        return 'removed';
      case 'search':
        return index.search(op.query, {
          k: op.k,
          probe: op.probe,
          fullRanking: op.fullRanking,
          metadata: true,
        });
      case 'get':
        return (await index.get(op.id)) ?? 'absent';
      case 'size':
        return index.size();
    }
  }

  const outcome = (p: Promise<unknown>) =>
    p.then(
      (value) => ({ value }),
      (error: unknown) => ({
        error: error instanceof AnchorageError ? error.code : (error as Error).message,
      }),
    );

  it('interleaved add, remove and search calls give exactly the results of a sequential run', async () => {
    const dim = 4;
    const classes = 3;
    const ops = script(160, dim, classes);
    // A client that yields to the event loop before every statement, as a network client does:
    // without the index's own queue, statements of concurrent calls would interleave here.
    const yielding: SqlClient = {
      query: async (text, params) => {
        await new Promise((resolve) => setImmediate(resolve));
        return db.query(text, params);
      },
    };
    const anchors = anchorsOnAxes(classes, dim);
    const sequentialIndex = await PgVectorIndex.create(yielding, { table: nextTable(), dim, anchors });
    const concurrentIndex = await PgVectorIndex.create(yielding, { table: nextTable(), dim, anchors });

    const sequential: unknown[] = [];
    for (const op of ops) sequential.push(await outcome(call(sequentialIndex, op)));
    const concurrent = await Promise.all(ops.map((op) => outcome(call(concurrentIndex, op))));

    // the script does exercise every path: failed batches, absent ids, hits
    const kinds = (o: unknown) => JSON.stringify(o);
    expect(sequential.filter((o) => kinds(o).includes('unsupported Unicode')).length).toBeGreaterThan(3);
    expect(sequential.filter((o) => kinds(o).includes('NOT_FOUND')).length).toBeGreaterThan(3);
    expect(sequential.filter((o) => kinds(o).includes('"hits":[{')).length).toBeGreaterThan(20);
    for (let i = 0; i < ops.length; i++)
      expect(concurrent[i], `call ${i} (${ops[i]!.kind})`).toEqual(sequential[i]);
    const all = async (index: PgVectorIndex) => {
      const out = [];
      for await (const item of index.items()) out.push(item);
      return out;
    };
    expect(await all(concurrentIndex)).toEqual(await all(sequentialIndex));
    await sequentialIndex.drop();
    await concurrentIndex.drop();
  });
});

describe('PgVectorIndex with HNSW indexes on the partitions', () => {
  it("'index' order is served by each probed partition's HNSW index", async () => {
    const dim = 8;
    const table = nextTable();
    const statements: { text: string; params: unknown[] | undefined }[] = [];
    const recorder: SqlClient = {
      query: async (text, params) => {
        statements.push({ text, params });
        return db.query(text, params);
      },
    };
    const index = await PgVectorIndex.create(recorder, { table, dim, anchors: anchorsOnAxes(3, dim) });
    const n = 6000;
    await index.add({ ids: Array.from({ length: n }, (_, i) => i), vectors: vectors(n, dim) });
    // A partitioned index: PostgreSQL creates one HNSW graph per class partition.
    await db.query(`CREATE INDEX ${table}_hnsw ON ${table} USING hnsw (embedding vector_l2_ops)`);
    await db.query(`ANALYZE ${table}`);
    index.order = 'index';
    const query = vectors(1, dim, 0.3);
    const approximate = await index.search(query, { k: 10, probe: 2 });
    const search = statements[statements.length - 1]!;
    const plan = (await db.query<{ 'QUERY PLAN': string }>(`EXPLAIN ${search.text}`, search.params)).rows
      .map((row) => row['QUERY PLAN'])
      .join('\n');
    const probed = approximate.probed!.map((p) => p.anchor);
    for (const c of probed) expect(plan).toMatch(new RegExp(`Index Scan using ${table}_c${c}_embedding_idx`));
    index.order = 'exact';
    const exact = await index.search(query, { k: 10, probe: 2 });
    // HNSW is approximate (and pgvector draws its graph levels at random): ask for most of the
    // exact neighbours, each reported with its exact squared distance, nearest first.
    const truth = new Map(exact.hits.map((h) => [h.id, h.distance]));
    const common = approximate.hits.filter((h) => truth.has(h.id));
    expect(common.length).toBeGreaterThanOrEqual(8);
    for (const hit of common) expect(hit.distance).toBe(truth.get(hit.id));
    const distances = approximate.hits.map((h) => h.distance);
    expect(distances).toEqual([...distances].sort((a, b) => a - b));
    expect(approximate.scanned).toBe(exact.scanned);
    await index.drop();
  });
});

describe('PgVectorIndex through the pg client and the PostgreSQL wire protocol', () => {
  let server: PGLiteSocketServer;
  let client: pg.Client;
  let remoteDb: PGlite;

  beforeAll(async () => {
    remoteDb = await PGlite.create({ extensions: { vector } });
    server = new PGLiteSocketServer({ db: remoteDb, port: 0, host: '127.0.0.1' });
    await server.start();
    const address = server.getServerConn();
    const port = Number(address.slice(address.lastIndexOf(':') + 1));
    client = new pg.Client({ host: '127.0.0.1', port, user: 'postgres', database: 'postgres' });
    await client.connect();
  });

  afterAll(async () => {
    await client?.end();
    await server?.stop();
    await remoteDb?.close();
  });

  runConformanceSuite(
    'PgVectorIndex (pg over a socket)',
    async ({ dim, anchors }) => PgVectorIndex.create(client, { table: nextTable(), dim, anchors }),
    {
      twoStage: true,
      fullRanking: true,
      distanceTolerance: 1e-5,
      dispose: async (index) => (index as PgVectorIndex).drop(),
    },
  );

  it('an index written through pg is read back by another PgVectorIndex on the same session', async () => {
    const table = nextTable();
    const dim = 5;
    const index = await PgVectorIndex.create(client, { table, dim, anchors: anchorsOnAxes(3, dim) });
    await index.add({
      ids: [1, '1', 'two'],
      vectors: vectors(3, dim),
      labels: [0, 1, 2],
      metadata: [{ n: 1 }, null, 'x'],
    });
    const reopened = await PgVectorIndex.open(client, { table });
    const items = [];
    for await (const item of reopened.items()) items.push(item);
    expect(items.map((i) => [i.id, i.label, i.metadata])).toEqual([
      [1, 0, { n: 1 }],
      ['1', 1, null],
      ['two', 2, 'x'],
    ]);
    await index.drop();
  });
});

describe('PgVectorIndex with Citus', () => {
  it('distributes the items by class and replicates the anchors', async () => {
    const statements: string[] = [];
    const recorder: SqlClient = {
      query: async (text, params) => {
        statements.push(params === undefined ? text : `${text} ${JSON.stringify(params)}`);
        if (text.includes('create_reference_table') || text.includes('create_distributed_table'))
          return { rows: [] };
        return db.query(text, params);
      },
    };
    const table = nextTable();
    const index = await PgVectorIndex.create(recorder, {
      table,
      dim: 3,
      anchors: anchorsOnAxes(2, 3),
      citus: true,
    });
    expect(statements.slice(-2)).toEqual([
      `SELECT create_reference_table($1) ["${table}_anchors"]`,
      `SELECT create_distributed_table($1, 'class_id') ["${table}"]`,
    ]);
    await index.add({ ids: ['p', 'q'], vectors: vectors(2, 3), labels: [0, 1] });
    const before = statements.length;
    const results = await index.searchBatch(vectors(3, 3, 1), { k: 1, probe: 2 });
    // One statement per query: Citus does not push a LATERAL LIMIT join down to the shards.
    expect(statements.length - before).toBe(3);
    expect(results.map((r) => r.hits.length)).toEqual([1, 1, 1]);
    await index.drop();
  });
});
