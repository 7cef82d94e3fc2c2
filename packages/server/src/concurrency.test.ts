import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorIndex, SearchPool } from '@anchorage/retrieval';
import { afterAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { loadBundle } from './bundle.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { seeded, writeBundle } from './test-fixtures.js';

const KEY = 'test-key-0123456789';
const DIM = 8;
const CLASSES = 3;
const headers = { Authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
const root = mkdtempSync(join(tmpdir(), 'anchorage-concurrency-'));
const pool = new SearchPool({ workers: 2 });

afterAll(async () => {
  await pool.close();
  rmSync(root, { recursive: true, force: true });
});

const pause = () => new Promise<void>((resolve) => setImmediate(resolve));

describe('concurrent writes and searches through the search threads', () => {
  it('every search answer is some prefix of the acknowledged writes, whole batches only', async () => {
    const bundle = loadBundle(writeBundle(join(root, 'bundle'), { dim: DIM, classes: CLASSES }).dir);
    const catalog = await SqliteCatalog.open({
      path: join(root, 'items.db'),
      dim: DIM,
      anchors: bundle.anchors,
      createIndex: (o) => new AnchorIndex(o),
      loadIndex: (p) => AnchorIndex.load(p),
      searchPool: pool,
    });
    const app = createApp({ bundle, catalog, options: { apiKeys: [KEY] } });
    const rand = seeded(11);
    let clock = 0;
    const batches: { ids: string[]; sent: number; acked: number }[] = [];
    const searches: { ids: Set<string>; sent: number; done: number; metadata: Map<string, unknown> }[] = [];

    const writer = async (client: number) => {
      for (let b = 0; b < 12; b++) {
        const size = 1 + Math.floor(rand() * 4);
        const items = Array.from({ length: size }, (_, j) => ({
          id: `w${client}-${b}-${j}`,
          vector: Array.from({ length: DIM }, () => rand() * 4 - 2),
          label: Math.floor(rand() * CLASSES),
          metadata: { client, batch: b },
        }));
        const record = { ids: items.map((it) => it.id), sent: clock++, acked: Number.POSITIVE_INFINITY };
        batches.push(record);
        const res = await app.request('/v1/items', {
          method: 'POST',
          headers,
          body: JSON.stringify({ items }),
        });
        expect(res.status).toBe(200);
        record.acked = clock++;
        if (rand() < 0.5) await pause();
      }
    };
    const searcher = async () => {
      for (let s = 0; s < 25; s++) {
        const sent = clock++;
        const batch = rand() < 0.3;
        const vector = Array.from({ length: DIM }, () => rand() * 4 - 2);
        const res = await app.request(batch ? '/v1/search/batch' : '/v1/search', {
          method: 'POST',
          headers,
          body: JSON.stringify(
            batch
              ? { vectors: [vector, vector], k: 1000, probe: CLASSES }
              : { vector, k: 1000, probe: CLASSES },
          ),
        });
        expect(res.status).toBe(200);
        const body = (await res.json()) as {
          results?: { id: string; metadata: unknown }[];
          queries?: { results: { id: string; metadata: unknown }[] }[];
        };
        const answers = body.queries ? body.queries.map((q) => q.results) : [body.results!];
        for (const results of answers) {
          searches.push({
            ids: new Set(results.map((r) => r.id)),
            sent,
            done: clock,
            metadata: new Map(results.map((r) => [r.id, r.metadata])),
          });
        }
        clock++;
        if (rand() < 0.5) await pause();
      }
    };
    await Promise.all([writer(0), writer(1), writer(2), searcher(), searcher(), searcher()]);

    expect(searches.length).toBeGreaterThanOrEqual(75);
    const ordered = [...searches].sort((a, b) => a.ids.size - b.ids.size);
    for (let i = 0; i < ordered.length; i++) {
      const { ids, sent, done, metadata } = ordered[i]!;
      for (const batch of batches) {
        const present = batch.ids.filter((id) => ids.has(id)).length;
        // a batch is all there or absent, there once acknowledged, and never before it was sent
        expect([0, batch.ids.length]).toContain(present);
        if (batch.acked < sent) expect(present).toBe(batch.ids.length);
        if (present > 0) expect(batch.sent).toBeLessThan(done);
      }
      for (const [id, meta] of metadata) {
        const [client, b] = id.slice(1).split('-').map(Number);
        expect(meta).toEqual({ client, batch: b });
      }
      // answers form one chain: each holds every item of the smaller ones (a prefix of one order)
      if (i > 0) for (const id of ordered[i - 1]!.ids) expect(ids.has(id)).toBe(true);
    }
    const total = batches.reduce((n, b) => n + b.ids.length, 0);
    expect(await catalog.size()).toBe(total);
    expect(ordered.at(-1)!.ids.size).toBeLessThanOrEqual(total);
    await catalog.close();
  });
});
