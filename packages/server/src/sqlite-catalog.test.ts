import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { AnchorIndex } from '@anchorage/retrieval';
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
    const c = await SqliteCatalog.open(options({ snapshotPath, loadIndex }));
    expect(loadIndex).toHaveBeenCalledTimes(2);
    await expectSameAs(c, pool);
    await c.close();
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

  it('keeps the last of repeated ids in one batch', async () => {
    const a = await SqliteCatalog.open(options({ path: ':memory:' }));
    await a.put([
      { id: 'x', vector: new Float32Array([1, 0, 0]), label: 0, metadata: 1 },
      { id: 'x', vector: new Float32Array([0, 1, 0]), label: 1, metadata: 2 },
    ]);
    expect(await a.size()).toBe(1);
    expect(await a.get('x')).toMatchObject({ label: 1, metadata: 2, vector: new Float32Array([0, 1, 0]) });
    await a.close();
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
