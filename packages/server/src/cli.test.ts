import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorIndex, FlatIndex } from '@anchorage/retrieval';
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
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('--bundle');
    expect(both.stderr).toContain('--db and --store cannot both be given');
    expect(badPort.code).not.toBe(0);
    expect(badPort.stderr).toContain('--port');
    expect(badBundle.code).toBe(1);
    expect(badBundle.stderr).toContain('manifest.json');
    expect(badFile.stderr).toContain('invalid --port');
  });

  it('names the missing file in one line and exits 1, for every file it reads', async () => {
    const missing = join(root, 'nonexistent');
    const cases: [string[], string][] = [
      [['--bundle', missing], join(missing, 'manifest.json')],
      [['--bundle', bundleDir, '--db', join(missing, 'items.db')], join(missing, 'items.db')],
      [['--bundle', bundleDir, '--index', `${missing}.anchorage`], `${missing}.anchorage`],
      [['--bundle', bundleDir, '--config', `${missing}.json`], `${missing}.json`],
      [['--bundle', bundleDir, '--api-keys-file', `${missing}.keys`], `${missing}.keys`],
    ];
    const results = await Promise.all(cases.map(([args]) => runCli(['--port', '0', ...args])));
    results.forEach(({ code, stderr }, i) => {
      const [args, file] = cases[i]!;
      expect(code, args.join(' ')).toBe(1);
      const lines = stderr.trim().split('\n');
      expect(lines, stderr).toHaveLength(1);
      expect(lines[0]).toMatch(/^anchorage-serve: /);
      expect(lines[0]).toContain(file);
    });
  });

  it('loses no acknowledged write and shows no half-written batch across SIGKILLs', async () => {
    const db = join(root, 'crash.db');
    const rand = seeded(2024);
    const acked = new Set<string>();
    const ackedDeletes = new Set<string>();
    // deletions sent but cut by the kill: they may or may not have committed
    const triedDeletes = new Set<string>();
    const batches: string[][] = [];
    let next = 0;
    const env = { ANCHORAGE_API_KEYS: KEY, ANCHORAGE_LOG_LEVEL: 'warn' };
    const rounds = 4;
    for (let round = 0; round <= rounds; round++) {
      // odd rounds serve the same store with the int8 stage 2: the codes are rebuilt from the
      // snapshot and the store, and each item is still found by its own vector at distance 0
      const server = await startServerProcess(
        [
          '--bundle',
          bundleDir,
          '--db',
          db,
          '--log-level',
          'info',
          ...(round % 2 === 1 ? ['--compression', 'int8'] : []),
        ],
        env,
      );
      // every acknowledged item is there, byte for byte, and findable by its own vector
      for (const id of acked) {
        const res = await fetch(`${server.url}/v1/items/${id}`);
        if (ackedDeletes.has(id)) {
          expect(res.status).toBe(404);
          continue;
        }
        if (triedDeletes.has(id) && res.status === 404) continue;
        expect(res.status, id).toBe(200);
        const body = (await res.json()) as { vector: number[]; label: number | null; metadata: unknown };
        const want = itemFor(id);
        expect(body.vector).toEqual(want.vector);
        expect(body.label).toBe(want.label ?? null);
        expect(body.metadata).toEqual(want.metadata);
      }
      const sample = [...acked].filter((id) => !triedDeletes.has(id)).slice(-50);
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
        const settled = batch.map((id, i) => (triedDeletes.has(id) ? undefined : present[i]));
        const count = settled.filter((p) => p === true).length;
        const known = settled.filter((p) => p !== undefined).length;
        expect([0, known], batch.join()).toContain(count);
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
              const candidates = [...acked].filter((id) => !triedDeletes.has(id));
              if (candidates.length === 0) continue;
              const id = candidates[Math.floor(rand() * candidates.length)]!;
              triedDeletes.add(id);
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
  });

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
          headers: { ...headers, 'content-length': Buffer.byteLength(body), expect: '100-continue' },
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
      // "100 Continue" proves the server has accepted the connection and parsed the headers: then
      // SIGTERM, half the body, the rest later, so the request is in flight while shutdown begins
      req.on('continue', () => {
        server.child.kill('SIGTERM');
        req.write(body.slice(0, 10));
        setTimeout(() => req.end(body.slice(10)), 300);
      });
      req.flushHeaders();
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
  });

  it('drains keep-alive clients on SIGTERM with Connection: close, never resetting a request', async () => {
    const db = join(root, 'keepalive.db');
    const server = await startServerProcess(['--bundle', bundleDir, '--db', db], { ANCHORAGE_API_KEYS: KEY });
    const acked = new Set<string>();
    const endings: string[] = [];
    let closes = 0;
    let signalled = false;
    // four writers, each on its own keep-alive socket, sending back to back until the server is gone
    const writer = async (w: number) => {
      const agent = new Agent({ keepAlive: true, maxSockets: 1 });
      for (let n = 0; ; n++) {
        const id = `k${w}-${n}`;
        const body = putBody(id);
        try {
          const { status, connection } = await new Promise<{ status: number; connection?: string }>(
            (resolve, reject) => {
              const req = request(
                {
                  host: '127.0.0.1',
                  port: server.port,
                  method: 'PUT',
                  path: `/v1/items/${id}`,
                  agent,
                  headers: { ...headers, 'content-length': Buffer.byteLength(body) },
                },
                (res) => {
                  res.resume();
                  res.on('end', () =>
                    resolve({ status: res.statusCode ?? 0, connection: res.headers.connection }),
                  );
                },
              );
              req.on('error', reject);
              req.end(body);
            },
          );
          expect(status).toBe(200);
          acked.add(id);
          if (connection === 'close') closes++;
          if (!signalled && acked.size >= 60) {
            signalled = true;
            server.child.kill('SIGTERM');
          }
        } catch (error) {
          endings.push((error as NodeJS.ErrnoException).code ?? String(error));
          agent.destroy();
          return;
        }
      }
    };
    await Promise.all([0, 1, 2, 3].map(writer));
    expect(await server.exited).toBe(0);
    // every writer ends because nothing listens any more, none because its socket was reset
    expect(endings).toEqual(['ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED', 'ECONNREFUSED']);
    expect(closes).toBeGreaterThan(0);
    const again = await startServerProcess(['--bundle', bundleDir, '--db', db]);
    expect(((await (await fetch(`${again.url}/v1/stats`)).json()) as { items: number }).items).toBe(
      acked.size,
    );
    again.child.kill('SIGTERM');
    expect(await again.exited).toBe(0);
  });

  it('keeps every odd id the schema accepts through SIGTERM and SIGKILL restarts, each one deletable', async () => {
    const db = join(root, 'odd-ids.db');
    const odd = [
      '\ufffd',
      'a\ufffd',
      '\ufffd\ufffd\ufffd',
      '\u{1f600}',
      '\u{10ffff}',
      '\u{e0001}',
      'e\u0301',
      '\u00e9',
      '\u200b',
      '\u200d',
      '\u202e',
      '\ufeff',
      '\uffff',
      '\ufdd0',
      '\u2028',
      'a/b',
      'a?b',
      'a#b',
      '%',
      '%2F',
      '%2E%2E',
      '...',
      ' ',
      ' lead',
      'trail ',
      '"',
      "'",
      '\\',
      '\u00df',
      'SS',
      '\u0130',
      '0',
      '00',
      '-0',
      '1e3',
      'x'.repeat(256),
      '\u{1f600}'.repeat(128),
    ];
    const acked = new Set<string>();
    const write = async (url: string, ids: string[], how: 'put' | 'batch') => {
      if (how === 'put') {
        for (const id of ids) {
          const res = await fetch(`${url}/v1/items/${encodeURIComponent(id)}`, {
            method: 'PUT',
            headers,
            body: putBody(id),
          });
          expect(res.status, JSON.stringify(id)).toBe(200);
          acked.add(id);
        }
      } else {
        const res = await fetch(`${url}/v1/items`, {
          method: 'POST',
          headers,
          body: JSON.stringify({ items: ids.map(itemFor) }),
        });
        expect(res.status).toBe(200);
        for (const id of ids) acked.add(id);
      }
    };
    const expectAll = async (url: string) => {
      const stats = (await (await fetch(`${url}/v1/stats`)).json()) as { items: number };
      expect(stats.items).toBe(acked.size);
      for (const id of acked) {
        const res = await fetch(`${url}/v1/items/${encodeURIComponent(id)}`);
        expect(res.status, JSON.stringify(id)).toBe(200);
        const item = (await res.json()) as { id: string; vector: number[] };
        expect(item.id).toBe(id);
        expect(item.vector).toEqual(itemFor(id).vector);
      }
    };
    const start = () => startServerProcess(['--bundle', bundleDir, '--db', db], { ANCHORAGE_API_KEYS: KEY });

    let server = await start();
    await write(server.url, odd, 'put');
    await write(
      server.url,
      odd.map((id) => `b:${id}`.slice(0, 256)),
      'batch',
    );
    server.child.kill('SIGTERM'); // writes the snapshot
    expect(await server.exited).toBe(0);
    server = await start();
    await expectAll(server.url);
    await write(
      server.url,
      odd.map((id) => `c:${id}`.slice(0, 256)),
      'batch',
    );
    server.child.kill('SIGKILL'); // the snapshot is now behind the rows
    expect(await server.exited).toBe('SIGKILL');
    server = await start();
    await expectAll(server.url);
    for (const id of acked) {
      const res = await fetch(`${server.url}/v1/items/${encodeURIComponent(id)}`, {
        method: 'DELETE',
        headers,
      });
      expect(res.status, JSON.stringify(id)).toBe(200);
    }
    acked.clear();
    await expectAll(server.url);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
    server = await start();
    await expectAll(server.url);
    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  });

  it('refuses a second server on the same --db, naming the file; a SIGKILLed holder leaves no stale lock', async () => {
    const db = join(root, 'shared.db');
    const args = ['--bundle', bundleDir, '--db', db];
    const env = { ANCHORAGE_API_KEYS: KEY };
    const first = await startServerProcess(args, env);
    const put = (url: string, id: string) =>
      fetch(`${url}/v1/items/${id}`, { method: 'PUT', headers, body: putBody(id) });
    expect((await put(first.url, 'before')).status).toBe(200);
    const second = await startServerProcess(args, env).then(
      async (server) => {
        server.child.kill('SIGKILL');
        await server.exited;
        return 'the second server started';
      },
      (error: Error) => error.message,
    );
    const stderr = second.replace(/^server exited \(1\) before listening: /, '');
    expect(stderr, second).not.toBe(second);
    expect(stderr.trim().split('\n')).toEqual([
      `anchorage-serve: database ${db} is in use by another server (another anchorage-serve on the same --db?); stop that one first, or give this one its own --db`,
    ]);
    // the first server is unharmed and keeps writing
    expect((await put(first.url, 'after')).status).toBe(200);
    first.child.kill('SIGKILL');
    expect(await first.exited).toBe('SIGKILL');
    const third = await startServerProcess(args, env);
    expect(((await (await fetch(`${third.url}/v1/stats`)).json()) as { items: number }).items).toBe(2);
    for (const id of ['before', 'after']) {
      const item = (await (await fetch(`${third.url}/v1/items/${id}`)).json()) as { vector: number[] };
      expect(item.vector).toEqual(itemFor(id).vector);
    }
    third.child.kill('SIGTERM');
    expect(await third.exited).toBe(0);
  });

  it('serves an index file built offline (--index), alone or imported into --db, and restarts from its own snapshot', async () => {
    const rand = seeded(5);
    const vectors = Float32Array.from({ length: 20 * DIM }, () => rand() * 10);
    const flat = new FlatIndex({ dim: DIM });
    flat.add({ ids: Array.from({ length: 20 }, (_, i) => i), vectors });
    const flatPath = join(root, 'flat.idx');
    await flat.save(flatPath);
    const anchored = new AnchorIndex({
      dim: DIM,
      anchors: new Float32Array(CLASSES * DIM).map((_, i) => (i % (DIM + 1) === 0 ? 10 : 0)),
    });
    anchored.add({ ids: ['p', 'q'], vectors: vectors.subarray(0, 2 * DIM), labels: [1, 3] });
    const anchoredPath = join(root, 'anchored.idx');
    await anchored.save(anchoredPath);

    const query = JSON.stringify({
      vector: Array.from(vectors.subarray(7 * DIM, 8 * DIM)),
      k: 1,
      probe: CLASSES,
    });
    const alone = await startServerProcess(['--bundle', bundleDir, '--index', anchoredPath]);
    expect(await (await fetch(`${alone.url}/v1/items/q`)).json()).toMatchObject({
      id: 'q',
      label: 3,
      bucket: 3,
    });
    alone.child.kill('SIGTERM');
    expect(await alone.exited).toBe(0);

    const db = join(root, 'imported.db');
    const first = await startServerProcess(['--bundle', bundleDir, '--index', flatPath, '--db', db], {
      ANCHORAGE_API_KEYS: KEY,
    });
    const hit = (await (
      await fetch(`${first.url}/v1/search`, { method: 'POST', headers, body: query })
    ).json()) as {
      results: { id: string; distance: number }[];
    };
    expect(hit.results[0]).toMatchObject({ id: '7', distance: 0 });
    expect(
      (await fetch(`${first.url}/v1/items/new`, { method: 'PUT', headers, body: putBody('new') })).status,
    ).toBe(200);
    first.child.kill('SIGTERM');
    expect(await first.exited).toBe(0);

    const second = await startServerProcess([
      '--bundle',
      bundleDir,
      '--index',
      flatPath,
      '--db',
      db,
      '--log-level',
      'debug',
    ]);
    expect(second.lines.join('\n')).toContain('index loaded from the snapshot');
    expect(second.lines.join('\n')).not.toContain('importing');
    expect(((await (await fetch(`${second.url}/v1/stats`)).json()) as { items: number }).items).toBe(21);
    expect((await fetch(`${second.url}/v1/items/new`)).status).toBe(200);
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
  });
});
