/**
 * How the server's search scales with its search threads, at 1M items: an open-loop generator
 * (one request every 1/rate s, latency from the scheduled send time) against `anchorage-serve`
 * started with `--search-threads 0` (searches on the HTTP thread), `1` and `2` (all cores here).
 * For each: the highest rate of a fixed ladder whose p99 stays under 20 ms, and the p99 at
 * 500 req/s; then the same with 5 % of the requests writes (PUT of an existing id: a new vector
 * for it, committed to SQLite before the answer).
 *
 *   pnpm --filter @anchorage/server bench:scaling [-- --n 1000000 --duration 5 --threads 0,1,2 --compression none,int8]
 *
 * `--compression` (default none) runs each thread count once per stage-2 compression of the index.
 *
 * Data as in bench/index.ts (d = 64, C = 10, labelled, k = 10, probe = 1). The database is
 * written once and kept under the system's temporary folder (anchorage-bench-cache), so later
 * runs only start the server (which loads its snapshot).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnchorIndex } from '@anchorage/retrieval';
import { SqliteCatalog } from '../src/sqlite-catalog.js';
import { seeded } from '../src/test-fixtures.js';

const DIM = 64;
const CLASSES = 10;
const KEY = 'bench-key-0123456789';
const RATES = [100, 200, 300, 400, 500, 700, 1000, 1400, 2000];
const args = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const n = Number(flag('n', '1000000'));
const durationS = Number(flag('duration', '5'));
const threadCounts = flag('threads', '0,1,2').split(',').map(Number);
const compressions = flag('compression', 'none').split(',');
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts');
const cache = join(tmpdir(), 'anchorage-bench-cache', `server-n${n}-d${DIM}-c${CLASSES}`);

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Request {
  method: 'POST' | 'PUT';
  path: string;
  body: string;
}

interface Run {
  rate: number;
  served: number;
  p50: number;
  p99: number;
  p99Search: number;
  p99Write: number;
  errors: number;
}

/** Sends `requests` (round robin) at `rate` per second for the run's duration, open loop. */
async function openLoad(url: string, requests: Request[], rate: number): Promise<Run> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const total = Math.round(rate * durationS);
  const all: number[] = [];
  const searches: number[] = [];
  const writes: number[] = [];
  let errors = 0;
  let sent = 0;
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let finished = 0;
    const send = (scheduled: number, r: Request) => {
      const req = request(
        new URL(`${url}${r.path}`),
        {
          method: r.method,
          agent,
          headers: {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(r.body),
            authorization: `Bearer ${KEY}`,
          },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            const ms = performance.now() - scheduled;
            all.push(ms);
            (r.method === 'PUT' ? writes : searches).push(ms);
            if (++finished === total) done();
          });
        },
      );
      req.on('error', () => {
        errors++;
        if (++finished === total) done();
      });
      req.end(r.body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + (sent * 1000) / rate <= now) {
        send(t0 + (sent * 1000) / rate, requests[sent % requests.length]!);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, t0 + (sent * 1000) / rate - performance.now()));
    };
    tick();
  });
  const elapsedS = (performance.now() - t0) / 1000;
  agent.destroy();
  for (const list of [all, searches, writes]) list.sort((a, b) => a - b);
  return {
    rate,
    served: all.length / elapsedS,
    p50: percentile(all, 50),
    p99: percentile(all, 99),
    p99Search: searches.length ? percentile(searches, 99) : Number.NaN,
    p99Write: writes.length ? percentile(writes, 99) : Number.NaN,
    errors,
  };
}

function startServer(
  threads: number,
  compression: string,
): Promise<{ url: string; stop: () => Promise<void> }> {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@anchorage/source',
      '--import',
      'tsx',
      CLI,
      '--bundle',
      join(cache, 'bundle'),
      '--db',
      join(cache, 'items.db'),
      '--port',
      '0',
      '--search-threads',
      String(threads),
      '--compression',
      compression,
      '--log-level',
      'warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ANCHORAGE_API_KEYS: KEY } },
  );
  return new Promise((resolve, reject) => {
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (d: string) => {
      const m = /listening on (http:\/\/[^/]+)\//.exec(d);
      if (m) {
        child.stderr!.resume();
        resolve({
          url: m[1]!,
          stop: () =>
            new Promise<void>((stopped) => {
              child.once('exit', () => stopped());
              child.kill('SIGTERM');
            }),
        });
      }
    });
    child.stdout!.resume();
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

/** Writes the bundle and the database once (cached); returns the anchors. */
async function prepare(): Promise<Float32Array> {
  const rand = seeded(1);
  const anchors = new Float32Array(CLASSES * DIM);
  for (let c = 0; c < CLASSES; c++) {
    let norm = 0;
    for (let j = 0; j < DIM; j++) norm += (anchors[c * DIM + j] = gaussian(rand)) ** 2;
    for (let j = 0; j < DIM; j++) anchors[c * DIM + j]! *= 10 / Math.sqrt(norm);
  }
  if (existsSync(join(cache, 'complete'))) return anchors;
  mkdirSync(join(cache, 'bundle'), { recursive: true });
  writeFileSync(
    join(cache, 'bundle', 'manifest.json'),
    JSON.stringify({
      formatVersion: 1,
      dim: DIM,
      classes: Array.from({ length: CLASSES }, (_, c) => `class-${c}`),
    }),
  );
  writeFileSync(
    join(cache, 'bundle', 'anchors.json'),
    JSON.stringify({
      dim: DIM,
      anchors: Array.from({ length: CLASSES }, (_, c) =>
        Array.from(anchors.subarray(c * DIM, (c + 1) * DIM)),
      ),
    }),
  );
  const started = performance.now();
  const catalog = await SqliteCatalog.open({
    path: join(cache, 'items.db'),
    dim: DIM,
    anchors,
    createIndex: (o) => new AnchorIndex(o),
    loadIndex: (p) => AnchorIndex.load(p),
    snapshotPath: join(cache, 'items.db.snapshot'),
  });
  for (let start = 0; start < n; start += 10_000) {
    const items = [];
    for (let i = start; i < Math.min(n, start + 10_000); i++) {
      const c = Math.floor(rand() * CLASSES);
      const vector = new Float32Array(DIM);
      for (let j = 0; j < DIM; j++) vector[j] = anchors[c * DIM + j]! + gaussian(rand) * 2;
      items.push({ id: `item-${i}`, vector, label: c, metadata: { i } });
    }
    await catalog.put(items);
  }
  await catalog.close();
  writeFileSync(join(cache, 'complete'), String((performance.now() - started) / 1000));
  return anchors;
}

async function main(): Promise<void> {
  const anchors = await prepare();
  const rand = seeded(2);
  const vector = () => {
    const c = Math.floor(rand() * CLASSES);
    return Array.from({ length: DIM }, (_, j) => anchors[c * DIM + j]! + gaussian(rand) * 2);
  };
  const searches: Request[] = Array.from({ length: 512 }, () => ({
    method: 'POST',
    path: '/v1/search',
    body: JSON.stringify({ vector: vector(), k: 10, probe: 1 }),
  }));
  // one request in twenty is a write: a new vector for an existing id (the size stays n)
  const mixed: Request[] = searches.map((search, i) => {
    if (i % 20 !== 19) return search;
    const id = `item-${Math.floor(rand() * n)}`;
    const label = Math.floor(rand() * CLASSES);
    return { method: 'PUT', path: `/v1/items/${id}`, body: JSON.stringify({ vector: vector(), label }) };
  });
  console.log(
    `anchorage-serve scaling: N=${n}, d=${DIM}, C=${CLASSES}, k=10, probe=1, ${durationS} s per rate, node ${process.version}, load average ${loadavg()[0]!.toFixed(2)} at start`,
  );
  const summary: string[] = [];
  for (const compression of compressions)
    for (const threads of threadCounts) {
      const server = await startServer(threads, compression);
      try {
        // warm-up: one run at 200 req/s, so compiled code and the heap after loading 1M items settle
        await openLoad(server.url, searches, 200);
        for (const [name, load] of [
          ['search', searches],
          ['95 % search + 5 % write', mixed],
        ] as const) {
          let best: Run | undefined;
          let at500: Run | undefined;
          for (const rate of RATES) {
            const run = await openLoad(server.url, load, rate);
            console.log(
              `threads=${threads} ${compression} ${name.padEnd(24)} rate ${String(rate).padStart(5)}: served ${run.served.toFixed(0).padStart(5)}/s p50 ${run.p50.toFixed(2)} ms p99 ${run.p99.toFixed(2)} ms (search ${run.p99Search.toFixed(2)}, write ${run.p99Write.toFixed(2)}) errors ${run.errors}`,
            );
            if (rate === 500) at500 = run;
            if (run.p99 < 20 && run.errors === 0) best = run;
            else if (rate >= 500) break;
          }
          at500 ??= await openLoad(server.url, load, 500);
          summary.push(
            `| ${threads === 0 ? '0 (HTTP thread)' : threads} | ${compression} | ${name} | ${best ? best.rate : '< 100'} | ${best ? best.p99.toFixed(1) : '—'} | ${at500.served.toFixed(0)} | ${at500.p99.toFixed(1)} | ${at500.errors} |`,
          );
        }
      } finally {
        await server.stop();
      }
    }
  console.log(
    '\n| search threads | compression | load | highest rate with p99 < 20 ms (req/s) | its p99 ms | served at 500 req/s | p99 ms at 500 req/s | errors at 500 |',
  );
  console.log('| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |');
  for (const line of summary) console.log(line);
  console.log(
    `load average ${loadavg()[0]!.toFixed(2)} at end; database written once in ${readFileSync(join(cache, 'complete'), 'utf8')} s`,
  );
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
