import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { loadBundle, type ModelBundle } from './bundle.js';
import { openPgCatalog } from './pg-catalog.js';
import { writeBundle } from './test-fixtures.js';

const KEY = 'pg-key';
const auth = { Authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };

describe('PostgreSQL storage over the wire (PGlite + pgvector)', () => {
  let root: string;
  let db: PGlite;
  let server: PGLiteSocketServer;
  let url: string;
  let bundle: ModelBundle;
  const log = pino({ level: 'silent' });

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'anchorage-pg-'));
    bundle = loadBundle(writeBundle(join(root, 'bundle'), { dim: 3, classes: 3 }).dir);
    db = await PGlite.create({ extensions: { vector } });
    server = new PGLiteSocketServer({ db, port: 0, host: '127.0.0.1' });
    await server.start();
    const address = server.getServerConn();
    url = `postgres://postgres@127.0.0.1:${address.slice(address.lastIndexOf(':') + 1)}/postgres`;
  });

  afterAll(async () => {
    await server?.stop();
    await db?.close();
    if (root) rmSync(root, { recursive: true, force: true });
  });

  it('stores, searches, filters and deletes through the API, and keeps items across reconnects', async () => {
    const catalog = await openPgCatalog({
      url,
      table: 'items',
      bundle,
      indexPath: undefined,
      log,
    });
    const app = createApp({ bundle, catalog, options: { apiKeys: [KEY] } });
    const put = await app.request('/v1/items', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        items: [
          { id: 'a', vector: [9, 0, 0], label: 0, metadata: { n: 1 } },
          { id: 'b', vector: [8, 1, 0], label: 0 },
          { id: 'c', vector: [0, 9, 0], label: 1 },
        ],
      }),
    });
    expect(put.status).toBe(200);
    const mixed = await app.request('/v1/items', {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({
        items: [
          { id: 'x', vector: [1, 1, 1], label: 2 },
          { id: 'y', vector: [1, 1, 1] },
        ],
      }),
    });
    expect(mixed.status).toBe(422);
    expect((await app.request('/v1/items/x')).status).toBe(404);
    expect(
      (await app.request('/v1/items/d', { method: 'PUT', headers: auth, body: '{"vector":[0,0,7]}' })).status,
    ).toBe(200);

    const search = (await (
      await app.request('/v1/search', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ vector: [10, 0, 0], k: 2 }),
      })
    ).json()) as {
      results: { id: string; distance: number; metadata: unknown }[];
      anchors: { class: number }[];
    };
    expect(search.results.map((r) => r.id)).toEqual(['a', 'b']);
    expect(search.results[0]!.distance).toBeCloseTo(1, 5);
    expect(search.results[1]!.distance).toBeCloseTo(5, 5);
    expect(search.results[0]!.metadata).toEqual({ n: 1 });
    expect(search.anchors[0]!.class).toBe(0);

    const filtered = (await (
      await app.request('/v1/search', {
        method: 'POST',
        headers: auth,
        body: JSON.stringify({ vector: [10, 0, 0], k: 3, probe: 3, filter: { labels: [1] } }),
      })
    ).json()) as typeof search;
    expect(filtered.results.map((r) => r.id)).toEqual(['c']);

    const stats = (await (await app.request('/v1/stats')).json()) as {
      items: number;
      storage: string;
      buckets: { size: number }[];
    };
    expect(stats).toMatchObject({ items: 4, storage: 'postgres' });
    expect(stats.buckets.map((b) => b.size)).toEqual([2, 1, 1]);

    expect((await app.request('/v1/items/b', { method: 'DELETE', headers: auth })).status).toBe(200);
    expect((await app.request('/v1/items/b', { method: 'DELETE', headers: auth })).status).toBe(404);
    await catalog.close();

    const again = await openPgCatalog({ url, table: 'items', bundle, indexPath: undefined, log });
    expect(await again.size()).toBe(3);
    expect(await again.get('a')).toMatchObject({ id: 'a', label: 0, bucket: 0, metadata: { n: 1 } });
    expect(await again.get('d')).toMatchObject({ label: undefined, bucket: 2 });
    await again.close();

    const other = { ...bundle, anchors: bundle.anchors.map((x) => x + 1) };
    await expect(
      openPgCatalog({ url, table: 'items', bundle: other, indexPath: undefined, log }),
    ).rejects.toThrow(/other anchors/);
  });
});
