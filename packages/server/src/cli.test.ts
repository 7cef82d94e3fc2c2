import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, startServerProcess } from './process-test-support.js';
import { seeded, writeBundle } from './test-fixtures.js';

const KEY = 'crash-test-key';
const DIM = 8;
const CLASSES = 4;
let root: string;
let bundleDir: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'anchorage-cli-'));
  bundleDir = writeBundle(join(root, 'bundle'), { dim: DIM, classes: CLASSES }).dir;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** The item a writer sends for `id`: vector, label and metadata all derived from the id. */
function itemFor(id: string) {
  let h = 0;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619) >>> 0;
  const rand = seeded(h);
  const vector = Array.from({ length: DIM }, () => Math.fround(rand() * 20 - 10));
  const label = h % 3 === 0 ? undefined : h % CLASSES;
  return { id, vector, label, metadata: { id, h } };
}

/** The PUT body for `id` (the id travels in the path). */
function putBody(id: string): string {
  const { id: _, ...rest } = itemFor(id);
  return JSON.stringify(rest);
}

const headers = { 'content-type': 'application/json', authorization: `Bearer ${KEY}` };

describe('anchorage-serve', () => {
  it('rejects bad configuration with a clear message', async () => {
    writeFileSync(join(root, 'config.json'), JSON.stringify({ port: 70000 }));
    const [missing, both, badPort, badBundle, badFile] = await Promise.all([
      runCli([]),
      runCli(['--bundle', bundleDir, '--db', join(root, 'x.db'), '--store', 'postgres://h/db']),
      runCli(['--bundle', bundleDir, '--port', 'abc']),
      runCli(['--bundle', join(root, 'nope'), '--port', '0']),
      runCli(['--bundle', bundleDir, '--config', join(root, 'config.json')]),
    ]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain('--bundle');
    expect(both.stderr).toContain('--db and --store cannot both be given');
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toContain('--port');
    expect(badBundle.code).toBe(2);
    expect(badBundle.stderr).toContain('manifest.json');
    expect(badFile.stderr).toContain('invalid --port');
  }, 60_000);

  it('loses no acknowledged write and shows no half-written batch across SIGKILLs', async () => {
    const db = join(root, 'crash.db');
    const rand = seeded(2024);
    const acked = new Set<string>();
    const ackedDeletes = new Set<string>();
    const batches: string[][] = [];
    let next = 0;
    const env = { ANCHORAGE_API_KEYS: KEY, ANCHORAGE_LOG_LEVEL: 'warn' };
    const rounds = 4;
    for (let round = 0; round <= rounds; round++) {
      const server = await startServerProcess(
        ['--bundle', bundleDir, '--db', db, '--log-level', 'info'],
        env,
      );
      // every acknowledged item is there, byte for byte, and findable by its own vector
      for (const id of acked) {
        const res = await fetch(`${server.url}/v1/items/${id}`);
        if (ackedDeletes.has(id)) {
          expect(res.status).toBe(404);
          continue;
        }
        expect(res.status, id).toBe(200);
        const body = (await res.json()) as { vector: number[]; label: number | null; metadata: unknown };
        const want = itemFor(id);
        expect(body.vector).toEqual(want.vector);
        expect(body.label).toBe(want.label ?? null);
        expect(body.metadata).toEqual(want.metadata);
      }
      const sample = [...acked].filter((id) => !ackedDeletes.has(id)).slice(-50);
      if (sample.length > 0) {
        const res = await fetch(`${server.url}/v1/search/batch`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ vectors: sample.map((id) => itemFor(id).vector), k: 1, probe: CLASSES }),
        });
        const body = (await res.json()) as { queries: { results: { id: string; distance: number }[] }[] };
        body.queries.forEach((q, i) => {
          expect(q.results[0]).toMatchObject({ id: sample[i], distance: 0 });
        });
      }
      // a batch is all there or not at all (deleted members aside)
      for (const batch of batches) {
        const present = await Promise.all(
          batch.map(async (id) => (await fetch(`${server.url}/v1/items/${id}`)).status === 200),
        );
        const alive = batch.filter((id) => !ackedDeletes.has(id));
        const count = present.filter(Boolean).length;
        expect([0, alive.length]).toContain(count);
      }
      if (round === rounds) {
        server.child.kill('SIGTERM');
        expect(await server.exited).toBe(0);
        break;
      }
      // concurrent writers until the kill
      let killed = false;
      const writer = async () => {
        while (!killed) {
          const pick = rand();
          try {
            if (pick < 0.5) {
              const id = `w${next++}`;
              const res = await fetch(`${server.url}/v1/items/${id}`, {
                method: 'PUT',
                headers,
                body: putBody(id),
              });
              if (res.status === 200) acked.add(id);
            } else if (pick < 0.9) {
              const ids = Array.from({ length: 2 + Math.floor(rand() * 4) }, () => `b${next++}`);
              batches.push(ids);
              const res = await fetch(`${server.url}/v1/items`, {
                method: 'POST',
                headers,
                body: JSON.stringify({ items: ids.map(itemFor) }),
              });
              if (res.status === 200) for (const id of ids) acked.add(id);
            } else {
              const candidates = [...acked].filter((id) => !ackedDeletes.has(id));
              if (candidates.length === 0) continue;
              const id = candidates[Math.floor(rand() * candidates.length)]!;
              const res = await fetch(`${server.url}/v1/items/${id}`, { method: 'DELETE', headers });
              if (res.status === 200) ackedDeletes.add(id);
            }
          } catch {
            // the kill cut this request: its outcome is unknown, so it is not recorded
          }
        }
      };
      const writers = Array.from({ length: 6 }, writer);
      await new Promise((r) => setTimeout(r, 150 + rand() * 350));
      server.child.kill('SIGKILL');
      killed = true;
      await Promise.all(writers);
      expect(await server.exited).toBe('SIGKILL');
    }
    expect([...acked].filter((id) => id.startsWith('w')).length).toBeGreaterThan(10);
    expect([...acked].filter((id) => id.startsWith('b')).length).toBeGreaterThan(10);
    expect(ackedDeletes.size).toBeGreaterThan(0);
  }, 120_000);

  it('drains an in-flight request on SIGTERM, then exits 0', async () => {
    const server = await startServerProcess(['--bundle', bundleDir, '--db', join(root, 'drain.db')], {
      ANCHORAGE_API_KEYS: KEY,
    });
    const body = putBody('slow');
    const answer = new Promise<{ status: number; text: string }>((resolve, reject) => {
      const req = request(
        {
          host: '127.0.0.1',
          port: server.port,
          method: 'PUT',
          path: '/v1/items/slow',
          headers: { ...headers, 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          let text = '';
          res.setEncoding('utf8');
          res.on('data', (d: string) => {
            text += d;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, text }));
        },
      );
      req.on('error', reject);
      // half the body now, SIGTERM, the rest later: the request is in flight when shutdown begins
      req.write(body.slice(0, 10));
      setTimeout(() => {
        server.child.kill('SIGTERM');
        setTimeout(() => req.end(body.slice(10)), 300);
      }, 200);
    });
    const { status, text } = await answer;
    expect(status).toBe(200);
    expect(JSON.parse(text)).toEqual({ id: 'slow', committed: true });
    expect(await server.exited).toBe(0);
    // the drained write was committed
    const again = await startServerProcess(['--bundle', bundleDir, '--db', join(root, 'drain.db')]);
    const item = (await (await fetch(`${again.url}/v1/items/slow`)).json()) as { vector: number[] };
    expect(item.vector).toEqual(itemFor('slow').vector);
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  }, 60_000);
});
