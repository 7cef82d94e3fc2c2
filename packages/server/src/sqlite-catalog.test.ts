import { copyFileSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { AnchorIndex, encodeIndexFile } from '@anchorage/retrieval';
import Database from 'better-sqlite3';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { ItemRecord } from './catalog.js';
import { SqliteCatalog, type SqliteCatalogOptions } from './sqlite-catalog.js';
import { seeded } from './test-fixtures.js';

const DIM = 3;
const ANCHORS = new Float32Array([10, 0, 0, 0, 10, 0, 0, 0, 10]);

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'anchorage-sqlite-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function options(extra: Partial<SqliteCatalogOptions> = {}): SqliteCatalogOptions {
  return {
    path: join(dir, 'items.db'),
    dim: DIM,
    anchors: ANCHORS,
    createIndex: (o) => new AnchorIndex(o),
    loadIndex: (p) => AnchorIndex.load(p),
    ...extra,
  };
}

function items(n: number, seed: number, prefix = 'i'): ItemRecord[] {
  const rand = seeded(seed);
  return Array.from({ length: n }, (_, i) => ({
    id: `${prefix}${i}`,
    vector: Float32Array.from({ length: DIM }, () => rand() * 20 - 5),
    label: i % 3 === 0 ? undefined : i % 3,
    metadata: i % 2 ? { n: i } : undefined,
  }));
}

/** Exhaustive reference: ids of the k nearest of `pool`, by squared L2 in float64. */
function nearest(pool: Map<string, ItemRecord>, query: Float32Array, k: number): string[] {
  return [...pool.values()]
    .map((it) => ({ id: it.id, d: it.vector.reduce((s, x, j) => s + (x - query[j]!) ** 2, 0) }))
    .sort((a, b) => a.d - b.d)
    .slice(0, k)
    .map((h) => h.id);
}

async function expectSameAs(catalog: SqliteCatalog, pool: Map<string, ItemRecord>): Promise<void> {
  expect(await catalog.size()).toBe(pool.size);
  for (const item of pool.values()) {
    const stored = await catalog.get(item.id);
    expect(stored?.vector).toEqual(item.vector);
    expect(stored?.label).toBe(item.label);
    expect(stored?.metadata).toEqual(item.metadata);
  }
  const rand = seeded(99);
  for (let q = 0; q < 5; q++) {
    const query = Float32Array.from({ length: DIM }, () => rand() * 10);
    const [result] = await catalog.search(query, { k: 5, probe: 3 });
    expect(result!.hits.map((h) => h.id)).toEqual(nearest(pool, query, 5));
  }
}

describe('SqliteCatalog', () => {
  it('rebuilds the index from the database after a restart', async () => {
    const pool = new Map(items(50, 1).map((it) => [it.id, it]));
    const a = await SqliteCatalog.open(options());
    await a.put([...pool.values()]);
    await a.remove('i7');
    pool.delete('i7');
    await a.close();
    const b = await SqliteCatalog.open(options());
    await expectSameAs(b, pool);
    expect(await b.bucketSizes()).toEqual(
      [0, 1, 2].map(
        (c) => [...pool.values()].filter((it) => (it.label ?? nearestAnchor(it.vector)) === c).length,
      ),
    );
    await b.close();
  });

  it('loads its own snapshot and replays only newer rows and deletions', async () => {
    const snapshotPath = join(dir, 'snapshot.idx');
    const pool = new Map(items(40, 2).map((it) => [it.id, it]));
    const a = await SqliteCatalog.open(options({ snapshotPath }));
    await a.put([...pool.values()]);
    await a.close(); // writes the snapshot
    const loadIndex = vi.fn((p: string) => AnchorIndex.load(p));
    const b = await SqliteCatalog.open(options({ snapshotPath, loadIndex }));
    expect(loadIndex).toHaveBeenCalledTimes(1);
    // changes after the snapshot, then the process "dies" without close()
    const later = items(10, 3, 'later');
    await b.put(later);
    for (const it of later) pool.set(it.id, it);
    const moved = { ...pool.get('i1')!, vector: new Float32Array([0, 0, 30]) };
    await b.put([moved]);
    pool.set('i1', moved);
    await b.remove('i2');
    pool.delete('i2');
    await b.remove('later3');
    pool.delete('later3');
    // the process "dies": its connection goes, and with it the lock, but no snapshot is written
    (b as unknown as { db: Database.Database }).db.close();
    const c = await SqliteCatalog.open(options({ snapshotPath, loadIndex }));
    expect(loadIndex).toHaveBeenCalledTimes(2);
    await expectSameAs(c, pool);
    await c.close();
  });

  it('holds its database: a second open is refused, naming the file, until the first closes', async () => {
    const path = join(dir, 'items.db');
    const a = await SqliteCatalog.open(options());
    await a.put(items(5, 4));
    const refused = await SqliteCatalog.open(options()).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(AnchorageError);
    expect((refused as AnchorageError).code).toBe('DATABASE_IN_USE');
    expect((refused as AnchorageError).message).toContain(path);
    // nor can another connection read or write behind the catalog's back
    const other = new Database(path, { timeout: 0 });
    expect(() => other.prepare('SELECT count(*) FROM items').get()).toThrow(/locked/);
    other.close();
    await a.put(items(3, 5, 'after'));
    await a.close();
    const b = await SqliteCatalog.open(options());
    expect(await b.size()).toBe(8);
    await b.close();
  });

  it('imports an index file into an empty database, numeric ids becoming strings', async () => {
    const indexPath = join(dir, 'built.idx');
    const built = new AnchorIndex({ dim: DIM, anchors: ANCHORS });
    built.add({ ids: [1, 2, 3], vectors: new Float32Array([9, 0, 0, 0, 9, 0, 0, 0, 9]), labels: [0, 1, 2] });
    await built.save(indexPath);
    const notices: string[] = [];
    const a = await SqliteCatalog.open(options({ indexPath, onNotice: (m) => notices.push(m) }));
    expect(notices[0]).toContain('importing');
    expect(await a.get('2')).toMatchObject({
      id: '2',
      label: 1,
      bucket: 1,
      vector: new Float32Array([0, 9, 0]),
    });
    const [r] = await a.search(new Float32Array([0, 0, 8]), { k: 1, probe: 1 });
    expect(r!.hits[0]).toMatchObject({ id: '3', distance: 1 });
    await a.close();
  });

  it('refuses a database written for other anchors', async () => {
    const a = await SqliteCatalog.open(options());
    await a.close();
    await expect(
      SqliteCatalog.open(options({ anchors: new Float32Array(9).fill(1) })),
    ).rejects.toBeInstanceOf(AnchorageError);
  });

  it('refuses repeated and ill-formed ids in one batch, writing nothing', async () => {
    const a = await SqliteCatalog.open(options({ path: ':memory:' }));
    const x = (id: string, label: number) => ({
      id,
      vector: new Float32Array([1, 0, 0]),
      label,
      metadata: 1,
    });
    await expect(a.put([x('x', 0), x('y', 1), x('x', 1)])).rejects.toMatchObject({
      code: 'DUPLICATE_ID',
      message: expect.stringMatching(/items\[2\]\.id "x" repeats items\[0\]\.id/),
    });
    await expect(a.put([x('ok', 0), x('a\ud800', 1)])).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
      argument: 'items[1].id',
    });
    expect(await a.size()).toBe(0);
    expect(await a.get('ok')).toBeUndefined();
    await a.close();
  });
});

describe('SqliteCatalog start-up never fails on what it wrote itself', () => {
  const snapshot = () => join(dir, 'items.db.snapshot');
  const withSnapshot = () => options({ snapshotPath: snapshot() });
  const stamp = (db: Database.Database) => {
    const st = statSync(snapshot());
    db.prepare('INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)').run(
      'snapshot_stamp',
      `${st.size}:${st.mtimeMs}`,
    );
  };
  const good = items(30, 5);

  async function written(): Promise<void> {
    const a = await SqliteCatalog.open(withSnapshot());
    await a.put(good);
    await a.close();
  }

  it('moves aside rows an older version stored with lone surrogates, and ignores its snapshot of them', async () => {
    await written();
    // what an older version left: two ids that differ only in a lone surrogate (SQLite keeps their
    // bytes apart, both read back as U+FFFD) and a snapshot that holds them as one id twice
    const db = new Database(join(dir, 'items.db'));
    const insert = db.prepare(
      'INSERT INTO items (id, vector, label, bucket, metadata, seq) VALUES (?, ?, ?, ?, ?, ?)',
    );
    insert.run('a\ud800', Buffer.from(new Float32Array([1, 2, 3]).buffer), null, 0, null, 1000);
    insert.run('a\udc00', Buffer.from(new Float32Array([3, 2, 1]).buffer), 1, 1, '{"m":1}', 1001);
    db.prepare('INSERT INTO tombstones (id, seq) VALUES (?, ?)').run('b\ud800', 1002);
    db.prepare("DELETE FROM meta WHERE key = 'ids_checked'").run();
    const contents = {
      dim: DIM,
      anchors: ANCHORS,
      ids: ['a\ufffd', 'a\ufffd'],
      vectors: new Float32Array(6),
      labels: new Int32Array([-1, -1]),
      buckets: new Int32Array([0, 0]),
    };
    writeFileSync(snapshot(), Buffer.concat(encodeIndexFile(contents)));
    stamp(db);
    db.close();

    const notices: string[] = [];
    const b = await SqliteCatalog.open({ ...withSnapshot(), onNotice: (m) => notices.push(m) });
    expect(notices.join('\n')).toMatch(/2 item\(s\) with ids that are not well-formed Unicode were moved/);
    await expectSameAs(b, new Map(good.map((it) => [it.id, it])));
    expect(await b.remove(good[0]!.id)).toBe(true);
    await b.close();

    const check = new Database(join(dir, 'items.db'), { readonly: true });
    const kept = check
      .prepare('SELECT hex(raw_id) AS raw, label, metadata FROM quarantined_items ORDER BY seq')
      .all();
    expect(kept).toEqual([
      { raw: '61EDA080', label: null, metadata: null },
      { raw: '61EDB080', label: 1, metadata: '{"m":1}' },
    ]);
    expect(check.prepare("SELECT count(*) AS n FROM tombstones WHERE id LIKE 'b%'").get()).toEqual({ n: 0 });
    check.close();
    // the check ran once: the next start takes the fresh snapshot without a notice about ids
    const again: string[] = [];
    const c = await SqliteCatalog.open({ ...withSnapshot(), onNotice: (m) => again.push(m) });
    expect(await c.size()).toBe(good.length - 1);
    expect(again.join('\n')).toMatch(/loaded from the snapshot/);
    await c.close();
  });

  it('rebuilds from the rows, never loading it, when the snapshot file is not the one it recorded', async () => {
    await written(); // snapshot of `good`, recorded in meta
    const stale = join(dir, 'stale.snapshot');
    copyFileSync(snapshot(), stale);
    // a replacement after that snapshot: same ids and count, so only the stamp tells them apart
    const pool = new Map(good.map((it) => [it.id, it]));
    const moved = { ...good[1]!, vector: new Float32Array([0, 0, 40]) };
    pool.set(moved.id, moved);
    const a = await SqliteCatalog.open(withSnapshot());
    await a.put([moved]);
    await a.close(); // the newer snapshot, recorded
    // the older snapshot comes back (a restored backup, a copy from another host)
    copyFileSync(stale, snapshot());
    utimesSync(snapshot(), new Date(2000, 0, 1), new Date(2000, 0, 1));
    const loadIndex = vi.fn((p: string) => AnchorIndex.load(p));
    const notices: string[] = [];
    const b = await SqliteCatalog.open({ ...withSnapshot(), loadIndex, onNotice: (m) => notices.push(m) });
    expect(notices).toEqual([
      `${snapshot()} does not match the database; rebuilding the index from the rows`,
    ]);
    expect(loadIndex).not.toHaveBeenCalled();
    const [hit] = await b.search(moved.vector, { k: 1, probe: 3 });
    expect(hit!.hits[0]).toMatchObject({ id: moved.id, distance: 0 });
    await expectSameAs(b, pool);
    await b.close(); // rebuilt, so a fresh snapshot is written and recorded
    const again: string[] = [];
    const c = await SqliteCatalog.open({ ...withSnapshot(), loadIndex, onNotice: (m) => again.push(m) });
    expect(loadIndex).toHaveBeenCalledTimes(1);
    expect(again.join('\n')).toMatch(/index loaded from the snapshot/);
    await expectSameAs(c, pool);
    await c.close();
  });

  it('rebuilds from the rows when its snapshot is refused or disagrees with them', async () => {
    await written();
    const pool = new Map(good.map((it) => [it.id, it]));
    // a snapshot with a valid checksum that the loader refuses (an id twice)
    const db = new Database(join(dir, 'items.db'));
    const ids = good.map((it) => it.id);
    ids[1] = ids[0]!;
    const refused = {
      dim: DIM,
      anchors: ANCHORS,
      ids,
      vectors: new Float32Array(good.length * DIM),
      labels: new Int32Array(good.length).fill(-1),
      buckets: new Int32Array(good.length),
    };
    writeFileSync(snapshot(), Buffer.concat(encodeIndexFile(refused)));
    stamp(db);
    db.close();
    const notices: string[] = [];
    const b = await SqliteCatalog.open({ ...withSnapshot(), onNotice: (m) => notices.push(m) });
    expect(notices.join('\n')).toMatch(
      /was not used \(.*appears twice\); rebuilding the index from the rows/,
    );
    await expectSameAs(b, pool);
    await b.close();

    // a readable snapshot that lacks an item the rows hold
    const partial = new AnchorIndex({ dim: DIM, anchors: ANCHORS });
    partial.add({ ids: ['i0'], vectors: good[0]!.vector, labels: undefined });
    await partial.save(snapshot());
    const db2 = new Database(join(dir, 'items.db'));
    stamp(db2);
    db2.close();
    const c = await SqliteCatalog.open({ ...withSnapshot(), onNotice: (m) => notices.push(m) });
    expect(notices.at(-1)).toMatch(/holds 1 items after the replay, the database 30/);
    await expectSameAs(c, pool);
    await c.close();
  });
});

function nearestAnchor(v: Float32Array): number {
  let best = 0;
  let bestD = Number.POSITIVE_INFINITY;
  for (let c = 0; c < 3; c++) {
    let d = 0;
    for (let j = 0; j < DIM; j++) d += (v[j]! - ANCHORS[c * DIM + j]!) ** 2;
    if (d < bestD) {
      bestD = d;
      best = c;
    }
  }
  return best;
}
