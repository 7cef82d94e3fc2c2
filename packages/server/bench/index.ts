/**
 * HTTP benchmark of anchorage-serve on loopback: vector and image search at a fixed offered load
 * (an open-loop generator: one request every 1/rate s, latency counted from the scheduled send
 * time) and at saturation (autocannon), against the same searches called in process.
 * autocannon's own rate limit is not used for the fixed load: it lets each connection send
 * back-to-back until its per-second budget is spent, so "500 req/s" arrives as bursts at
 * saturation speed and its latencies are those of saturation.
 *
 *   pnpm --filter @anchorage/server bench [-- --sizes 60000,1000000 --duration 10 --rate 500]
 *
 * Data: synthetic class-structured vectors (d = 64, C = 10: anchor + Gaussian noise), written to
 * a temporary SQLite database; the server is a child process started from source exactly as
 * `anchorage-serve --bundle DIR --db FILE --port 0` and killed at the end. Image queries use a
 * refcnn-shaped ONNX model (28×28×1) with random weights. Every run is bounded in time.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { AnchorIndex } from '@anchorage/retrieval';
import autocannon from 'autocannon';
import sharp from 'sharp';
import { loadBundle } from '../src/bundle.js';
import { OnnxEmbedder } from '../src/embedder.js';
import { decodeImage } from '../src/image.js';
import { SqliteCatalog } from '../src/sqlite-catalog.js';
import { seeded } from '../src/test-fixtures.js';
import { refCnnModel } from './refcnn-onnx.js';

const DIM = 64;
const CLASSES = 10;
const args = process.argv.slice(2).filter((a) => a !== '--');
const flag = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const sizes = flag('sizes', '60000').split(',').map(Number);
const durationS = Number(flag('duration', '10'));
const rate = Number(flag('rate', '500'));
const imageRate = Number(flag('image-rate', '300'));
const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli.ts');

function gaussian(rand: () => number): number {
  return Math.sqrt(-2 * Math.log(rand() || 1e-12)) * Math.cos(2 * Math.PI * rand());
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

interface Row {
  what: string;
  mode: string;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Server CPU time (user + system) per request: less sensitive to other load than wall time. */
  cpuMsPerReq?: number;
}

/** user + system CPU time of a process in ms, from /proc (Linux); NaN elsewhere. */
function cpuMs(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return Number.NaN;
  }
}

const rows: Row[] = [];
function report(row: Row): void {
  rows.push(row);
  console.log(
    `${row.what.padEnd(34)} ${row.mode.padEnd(22)} ${row.reqPerS.toFixed(0).padStart(8)} req/s  p50 ${row.p50Ms
      .toFixed(2)
      .padStart(7)} ms  p99 ${row.p99Ms.toFixed(2).padStart(7)} ms  errors ${row.errors}${
      row.cpuMsPerReq === undefined ? '' : `  server CPU ${row.cpuMsPerReq.toFixed(3)} ms/req`
    }`,
  );
}

async function load(
  url: string,
  bodies: string[] | undefined,
  options: { connections: number },
  pid: number,
): Promise<{ reqPerS: number; p50: number; p99: number; errors: number; cpuMsPerReq: number }> {
  let i = 0;
  const cpu0 = cpuMs(pid);
  const result = await autocannon({
    url: bodies ? `${url}/v1/search` : `${url}/healthz`,
    connections: options.connections,
    duration: durationS,
    requests: bodies
      ? [
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: Record<string, unknown>) => ({ ...req, body: bodies[i++ % bodies.length] }),
          },
        ]
      : undefined,
  });
  return {
    reqPerS: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    errors: result.errors + result.timeouts + result.non2xx,
    cpuMsPerReq: (cpuMs(pid) - cpu0) / result.requests.total,
  };
}

/**
 * Open-loop load: POSTs `bodies` (round robin) to `path` at `rate` requests per second for the
 * run's duration, each at its scheduled time whatever the earlier ones are doing, over
 * keep-alive connections. Latency runs from the scheduled send time to the end of the response,
 * so a stalled server shows in the tail instead of slowing the sender down.
 */
async function openLoad(
  url: string,
  bodies: string[],
  ratePerS: number,
  pid: number,
): Promise<{ reqPerS: number; p50: number; p99: number; errors: number; cpuMsPerReq: number }> {
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const target = new URL(`${url}/v1/search`);
  const total = Math.round(ratePerS * durationS);
  const latencies: number[] = [];
  let errors = 0;
  let sent = 0;
  const cpu0 = cpuMs(pid);
  const t0 = performance.now();
  await new Promise<void>((done) => {
    let finished = 0;
    const send = (scheduled: number, body: string) => {
      const req = request(
        target,
        {
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
        },
        (res) => {
          res.resume();
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            latencies.push(performance.now() - scheduled);
            if (++finished === total) done();
          });
        },
      );
      req.on('error', () => {
        errors++;
        if (++finished === total) done();
      });
      req.end(body);
    };
    const tick = () => {
      const now = performance.now();
      while (sent < total && t0 + (sent * 1000) / ratePerS <= now) {
        send(t0 + (sent * 1000) / ratePerS, bodies[sent % bodies.length]!);
        sent++;
      }
      if (sent < total) setTimeout(tick, Math.max(0, t0 + (sent * 1000) / ratePerS - performance.now()));
    };
    tick();
  });
  const elapsedS = (performance.now() - t0) / 1000;
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    reqPerS: latencies.length / elapsedS,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    errors,
    cpuMsPerReq: (cpuMs(pid) - cpu0) / total,
  };
}

function startServer(bundle: string, db: string): Promise<{ url: string; pid: number; stop: () => void }> {
  const child = spawn(
    process.execPath,
    [
      '--import',
      'tsx',
      CLI,
      '--bundle',
      bundle,
      '--db',
      db,
      '--port',
      '0',
      '--host',
      '127.0.0.1',
      '--log-level',
      'info',
    ],
    { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ANCHORAGE_LOG_LEVEL: 'info' } },
  );
  return new Promise((resolve, reject) => {
    let buffer = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (d: string) => {
      buffer += d;
      for (const line of buffer.split('\n')) {
        if (!line.includes('"listening"')) continue;
        const { port } = JSON.parse(line) as { port: number };
        // from here on the access log is only drained, not parsed
        child.stdout!.removeAllListeners('data');
        child.stdout!.resume();
        resolve({ url: `http://127.0.0.1:${port}`, pid: child.pid!, stop: () => child.kill('SIGTERM') });
      }
      buffer = buffer.slice(buffer.lastIndexOf('\n') + 1);
    });
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'anchorage-bench-'));
  try {
    const rand = seeded(1);
    const anchors = new Float32Array(CLASSES * DIM);
    for (let c = 0; c < CLASSES; c++) {
      let norm = 0;
      for (let j = 0; j < DIM; j++) norm += (anchors[c * DIM + j] = gaussian(rand)) ** 2;
      for (let j = 0; j < DIM; j++) anchors[c * DIM + j]! *= 10 / Math.sqrt(norm);
    }
    const bundleDir = join(root, 'bundle');
    mkdirSync(bundleDir);
    writeFileSync(
      join(bundleDir, 'manifest.json'),
      JSON.stringify({
        formatVersion: 1,
        dim: DIM,
        classes: Array.from({ length: CLASSES }, (_, c) => `class-${c}`),
        input: { height: 28, width: 28, channels: 1, mean: [0], std: [1], normalizedInGraph: true },
      }),
    );
    writeFileSync(
      join(bundleDir, 'anchors.json'),
      JSON.stringify({
        dim: DIM,
        anchors: Array.from({ length: CLASSES }, (_, c) =>
          Array.from(anchors.subarray(c * DIM, (c + 1) * DIM)),
        ),
      }),
    );
    writeFileSync(join(bundleDir, 'model.onnx'), refCnnModel(28, 28, 1, DIM));
    const bundle = loadBundle(bundleDir);

    const queries = 512;
    const queryVectors = new Float32Array(queries * DIM);
    for (let q = 0; q < queries; q++) {
      const c = Math.floor(rand() * CLASSES);
      for (let j = 0; j < DIM; j++) queryVectors[q * DIM + j] = anchors[c * DIM + j]! + gaussian(rand) * 2;
    }
    const vectorBodies = Array.from({ length: queries }, (_, q) =>
      JSON.stringify({ vector: Array.from(queryVectors.subarray(q * DIM, (q + 1) * DIM)), k: 10, probe: 1 }),
    );
    const images = await Promise.all(
      Array.from({ length: 64 }, (_, q) =>
        sharp(Buffer.from(Uint8Array.from({ length: 28 * 28 }, (_, i) => (i * 7 + q * 131) % 256)), {
          raw: { width: 28, height: 28, channels: 1 },
        })
          .png()
          .toBuffer(),
      ),
    );
    const imageBodies = images.map((png) => JSON.stringify({ image: png.toString('base64'), k: 10 }));

    console.log(
      `anchorage-serve benchmark: d=${DIM}, C=${CLASSES}, k=10, probe=1, ${durationS} s per load run, node ${process.version}`,
    );
    for (const n of sizes) {
      const db = join(root, `items-${n}.db`);
      const build = performance.now();
      const catalog = await SqliteCatalog.open({
        path: db,
        dim: DIM,
        anchors,
        createIndex: (o) => new AnchorIndex(o),
        loadIndex: (p) => AnchorIndex.load(p),
      });
      const chunk = 10_000;
      for (let start = 0; start < n; start += chunk) {
        const items = [];
        for (let i = start; i < Math.min(n, start + chunk); i++) {
          const c = Math.floor(rand() * CLASSES);
          const vector = new Float32Array(DIM);
          for (let j = 0; j < DIM; j++) vector[j] = anchors[c * DIM + j]! + gaussian(rand) * 2;
          items.push({ id: `item-${i}`, vector, label: c, metadata: { i } });
        }
        await catalog.put(items);
      }
      console.log(`N=${n}: database written in ${((performance.now() - build) / 1000).toFixed(1)} s`);

      // in process: the catalog's search (index + metadata lookup), one query at a time
      const times: number[] = [];
      const t0 = performance.now();
      for (let r = 0; r < 4; r++) {
        for (let q = 0; q < queries; q++) {
          const s = performance.now();
          await catalog.search(queryVectors.subarray(q * DIM, (q + 1) * DIM), { k: 10, probe: 1 });
          times.push(performance.now() - s);
        }
      }
      const wall = performance.now() - t0;
      times.sort((a, b) => a - b);
      report({
        what: `vector search N=${n}`,
        mode: 'in process',
        reqPerS: (times.length / wall) * 1000,
        p50Ms: percentile(times, 50),
        p99Ms: percentile(times, 99),
        errors: 0,
      });
      await catalog.close();

      const start = performance.now();
      const server = await startServer(bundleDir, db);
      console.log(
        `N=${n}: server ready in ${((performance.now() - start) / 1000).toFixed(1)} s (index rebuilt from SQLite)`,
      );
      try {
        await load(server.url, vectorBodies.slice(0, 32), { connections: 4 }, server.pid); // warm-up
        if (n === sizes[0]) {
          // the floor: the same server answering GET /healthz, to separate HTTP cost from search cost
          const floor = await load(server.url, undefined, { connections: 32 }, server.pid);
          report({
            what: 'GET /healthz (HTTP floor)',
            mode: 'HTTP saturation (32 conn)',
            reqPerS: floor.reqPerS,
            p50Ms: floor.p50,
            p99Ms: floor.p99,
            errors: floor.errors,
            cpuMsPerReq: floor.cpuMsPerReq,
          });
        }
        const fixed = await openLoad(server.url, vectorBodies, rate, server.pid);
        report({
          what: `vector search N=${n}`,
          mode: `HTTP ${rate} req/s open loop`,
          reqPerS: fixed.reqPerS,
          p50Ms: fixed.p50,
          p99Ms: fixed.p99,
          errors: fixed.errors,
          cpuMsPerReq: fixed.cpuMsPerReq,
        });
        const sat = await load(server.url, vectorBodies, { connections: 32 }, server.pid);
        report({
          what: `vector search N=${n}`,
          mode: 'HTTP saturation (32 conn)',
          reqPerS: sat.reqPerS,
          p50Ms: sat.p50,
          p99Ms: sat.p99,
          errors: sat.errors,
          cpuMsPerReq: sat.cpuMsPerReq,
        });
        if (n === sizes[0]) {
          const fixedImg = await openLoad(server.url, imageBodies, imageRate, server.pid);
          report({
            what: `image search N=${n}`,
            mode: `HTTP ${imageRate} req/s open loop`,
            reqPerS: fixedImg.reqPerS,
            p50Ms: fixedImg.p50,
            p99Ms: fixedImg.p99,
            errors: fixedImg.errors,
            cpuMsPerReq: fixedImg.cpuMsPerReq,
          });
          const satImg = await load(server.url, imageBodies, { connections: 32 }, server.pid);
          report({
            what: `image search N=${n}`,
            mode: 'HTTP saturation (32 conn)',
            reqPerS: satImg.reqPerS,
            p50Ms: satImg.p50,
            p99Ms: satImg.p99,
            errors: satImg.errors,
            cpuMsPerReq: satImg.cpuMsPerReq,
          });
        }
      } finally {
        server.stop();
      }
    }

    // in process: decode + embed one image at a time, then 32 at once (micro-batched)
    const embedder = await OnnxEmbedder.create({
      modelPath: bundle.modelPath!,
      input: bundle.manifest.input!,
      dim: DIM,
    });
    const single: number[] = [];
    const t1 = performance.now();
    for (let r = 0; r < 256; r++) {
      const s = performance.now();
      await embedder.embed(await decodeImage(images[r % images.length]!, bundle.manifest.input!));
      single.push(performance.now() - s);
    }
    const singleWall = performance.now() - t1;
    single.sort((a, b) => a - b);
    report({
      what: 'image decode+embed',
      mode: 'in process, 1 at a time',
      reqPerS: (256 / singleWall) * 1000,
      p50Ms: percentile(single, 50),
      p99Ms: percentile(single, 99),
      errors: 0,
    });
    const t2 = performance.now();
    for (let r = 0; r < 8; r++) {
      await Promise.all(
        images
          .slice(0, 32)
          .map(async (png) => embedder.embed(await decodeImage(png, bundle.manifest.input!))),
      );
    }
    const batchWall = performance.now() - t2;
    report({
      what: 'image decode+embed',
      mode: 'in process, 32 together',
      reqPerS: (256 / batchWall) * 1000,
      p50Ms: Number.NaN,
      p99Ms: Number.NaN,
      errors: 0,
    });
    await embedder.close();
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
