import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorIndex } from '@anchorage/retrieval';
import pino from 'pino';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, createApp } from './app.js';
import { loadBundle, type ModelBundle } from './bundle.js';
import { LoadingCatalog } from './catalog.js';
import { OnnxEmbedder } from './embedder.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { linearEmbedding, type TestBundle, writeBundle } from './test-fixtures.js';

const KEY = 'test-key-0123456789';
const DIM = 4;
const auth = { Authorization: `Bearer ${KEY}` };
const json = { 'content-type': 'application/json' };

let root: string;
let fixture: TestBundle;
let bundle: ModelBundle;
let embedder: OnnxEmbedder;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'anchorage-app-'));
  fixture = writeBundle(join(root, 'bundle'), {
    dim: DIM,
    classes: 3,
    model: { height: 4, width: 4, channels: 1 },
  });
  bundle = loadBundle(fixture.dir);
  embedder = await OnnxEmbedder.create({
    modelPath: bundle.modelPath!,
    input: bundle.manifest.input!,
    dim: DIM,
    batchWindowMs: 20,
  });
});

afterAll(async () => {
  await embedder.close();
  rmSync(root, { recursive: true, force: true });
});

async function makeApp(options: AppOptions = { apiKeys: [KEY] }, withModel = true) {
  const catalog = await SqliteCatalog.open({
    path: ':memory:',
    dim: DIM,
    anchors: bundle.anchors,
    createIndex: (o) => new AnchorIndex(o),
    loadIndex: (p) => AnchorIndex.load(p),
  });
  const app = createApp({ bundle, catalog, embedder: withModel ? embedder : undefined, options });
  return { app, catalog };
}

type App = Awaited<ReturnType<typeof makeApp>>['app'];

function put(app: App, id: string, body: unknown, headers: Record<string, string> = auth) {
  return app.request(`/v1/items/${encodeURIComponent(id)}`, {
    method: 'PUT',
    headers: { ...json, ...headers },
    body: JSON.stringify(body),
  });
}

function post(app: App, path: string, body: unknown, headers: Record<string, string> = {}) {
  return app.request(path, { method: 'POST', headers: { ...json, ...headers }, body: JSON.stringify(body) });
}

async function errorOf(res: Response): Promise<{ status: number; code: string; message: string }> {
  const body = (await res.json()) as { error: { code: string; message: string } };
  return { status: res.status, code: body.error.code, message: body.error.message };
}

function squared(a: readonly number[], b: readonly number[]): number {
  return a.reduce((s, x, i) => s + (x - b[i]!) ** 2, 0);
}

/** A PNG of exactly the model's input size, so decoding leaves the pixels unchanged. */
async function png(pixels: Uint8Array, width = 4, height = 4): Promise<Buffer> {
  return sharp(Buffer.from(pixels), { raw: { width, height, channels: 1 } })
    .png()
    .toBuffer();
}

describe('probes, documents and pages', () => {
  it('answers /healthz, /readyz, /openapi.json, /docs and the demo page', async () => {
    const { app } = await makeApp();
    expect(await (await app.request('/healthz')).json()).toEqual({ status: 'ok' });
    expect(await (await app.request('/readyz')).json()).toEqual({ ready: true, index: true, model: true });
    const doc = (await (await app.request('/openapi.json')).json()) as { paths: Record<string, object> };
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        '/healthz',
        '/metrics',
        '/readyz',
        '/v1/items',
        '/v1/items/{id}',
        '/v1/search',
        '/v1/search/batch',
        '/v1/stats',
      ].sort(),
    );
    expect(Object.keys(doc.paths['/v1/items/{id}']!).sort()).toEqual(['delete', 'get', 'put']);
    expect(await (await app.request('/docs')).text()).toContain('/openapi.json');
    const page = await app.request('/');
    expect(page.headers.get('content-type')).toContain('text/html');
    expect(await page.text()).toContain('anchorage search');
  });

  it('answers 503 NOT_READY while the index loads, then serves', async () => {
    const loading = new LoadingCatalog(DIM, 3);
    const app = createApp({ bundle, catalog: loading, ready: () => loading.loaded });
    expect((await app.request('/healthz')).status).toBe(200);
    expect(await errorOf(await app.request('/readyz'))).toMatchObject({ status: 503, code: 'NOT_READY' });
    expect(await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3, 4] }))).toMatchObject({
      status: 503,
      code: 'NOT_READY',
    });
    expect((await app.request('/metrics')).status).toBe(200);
    const { catalog } = await makeApp();
    await catalog.put([
      { id: 'a', vector: new Float32Array([1, 2, 3, 4]), label: undefined, metadata: undefined },
    ]);
    loading.resolve(catalog);
    expect((await app.request('/readyz')).status).toBe(200);
    const found = (await (await post(app, '/v1/search', { vector: [1, 2, 3, 4] })).json()) as {
      results: { id: string }[];
    };
    expect(found.results.map((r) => r.id)).toEqual(['a']);
  });
});

describe('items and vector search', () => {
  it('stores, reads, searches and deletes items; distances are squared L2', async () => {
    const { app } = await makeApp();
    const items = [
      { id: 'a', vector: [10, 0, 0, 0], label: 0, metadata: { name: 'A' } },
      { id: 'b', vector: [9, 1, 0, 0] },
      { id: 'c', vector: [0, 10, 0, 0], label: 1 },
      { id: 'd', vector: [0, 0, 9, 0] },
    ];
    const res = await post(app, '/v1/items', { items }, auth);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ids: ['a', 'b', 'c', 'd'], committed: true });
    expect(await (await app.request('/v1/items/a')).json()).toEqual({
      id: 'a',
      vector: [10, 0, 0, 0],
      label: 0,
      bucket: 0,
      metadata: { name: 'A' },
    });
    // b has no label: its bucket is its nearest anchor (anchor 0 = 10·e0)
    expect(((await (await app.request('/v1/items/b')).json()) as { bucket: number }).bucket).toBe(0);

    const query = [8, 1, 0, 0];
    const search = await post(app, '/v1/search', { vector: query, k: 2 });
    const body = (await search.json()) as {
      results: { id: string; distance: number; label: number | null; metadata: unknown }[];
      anchors: { class: number; name: string; distance: number }[];
      scanned: number;
    };
    expect(body.results.map((r) => r.id)).toEqual(['b', 'a']);
    expect(body.results[0]!.distance).toBeCloseTo(squared(query, [9, 1, 0, 0]), 5);
    expect(body.results[1]!.distance).toBeCloseTo(squared(query, [10, 0, 0, 0]), 5);
    expect(body.results[1]!.metadata).toEqual({ name: 'A' });
    expect(body.anchors).toEqual([{ class: 0, name: 'class-0', distance: squared(query, [10, 0, 0, 0]) }]);
    expect(body.scanned).toBe(2);

    // probe = 3 ranks every bucket: d (bucket 2) becomes reachable
    const wide = (await (
      await post(app, '/v1/search', { vector: [0, 0, 8, 0], k: 1, probe: 3 })
    ).json()) as typeof body;
    expect(wide.results[0]!.id).toBe('d');
    expect(wide.anchors.map((a) => a.class)).toEqual([2, 0, 1]);

    // label filter
    const filtered = (await (
      await post(app, '/v1/search', { vector: query, k: 5, probe: 3, filter: { labels: [1] } })
    ).json()) as typeof body;
    expect(filtered.results.map((r) => r.id)).toEqual(['c']);

    const batch = (await (
      await post(app, '/v1/search/batch', { vectors: [query, [0, 9, 0, 0]], k: 1 })
    ).json()) as {
      queries: (typeof body)[];
    };
    expect(batch.queries.map((q) => q.results[0]!.id)).toEqual(['b', 'c']);

    const stats = (await (await app.request('/v1/stats')).json()) as {
      items: number;
      buckets: { size: number; anchorNorm: number }[];
      anchorGeometry: { minNorm: number; minDistance: number };
    };
    expect(stats.items).toBe(4);
    expect(stats.buckets.map((b) => b.size)).toEqual([2, 1, 1]);
    // anchors 10·e0, 10·e1, 10·e2: norms 10, pairwise distances 10·√2
    expect(stats.anchorGeometry.minNorm).toBeCloseTo(10, 6);
    expect(stats.anchorGeometry.minDistance).toBeCloseTo(10 * Math.SQRT2, 6);
    expect(stats.buckets.map((b) => b.anchorNorm)).toEqual([10, 10, 10]);

    const del = await app.request('/v1/items/a', { method: 'DELETE', headers: auth });
    expect(await del.json()).toEqual({ id: 'a', deleted: true });
    expect(await errorOf(await app.request('/v1/items/a'))).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    expect(
      await errorOf(await app.request('/v1/items/a', { method: 'DELETE', headers: auth })),
    ).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });

    // replacing an item moves it
    expect((await put(app, 'b', { vector: [0, 0, 0, 10], label: 2 })).status).toBe(200);
    expect(await (await app.request('/v1/items/b')).json()).toMatchObject({
      vector: [0, 0, 0, 10],
      label: 2,
      bucket: 2,
    });
  });
});

describe('bad input: a clear error with a stable code, and nothing changes', () => {
  it('maps each bad input to its status and code', async () => {
    const { app, catalog } = await makeApp({ apiKeys: [KEY], bodyLimitBytes: 2048 });
    await put(app, 'keep', { vector: [1, 2, 3, 4] });
    const raw = (
      path: string,
      body: string,
      method = 'POST',
      headers: Record<string, string> = { ...json, ...auth },
    ) => Promise.resolve(app.request(path, { method, headers, body })).then(errorOf);

    expect(await raw('/v1/search', '{"vector": [1,2')).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
    expect(await raw('/v1/items', 'not json')).toMatchObject({ status: 400, code: 'MALFORMED_JSON' });
    expect(await raw('/v1/search', '{}', 'POST', { 'content-type': 'text/plain' })).toMatchObject({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
    });
    expect(await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3] }))).toMatchObject({
      status: 422,
      code: 'DIMENSION_MISMATCH',
    });
    expect(await raw('/v1/search', '{"vector": [1, 1e999, 0, 0]}')).toMatchObject({
      status: 422,
      code: 'NON_FINITE',
    });
    expect(await raw('/v1/items/x', '{"vector": [1, 0, 1e39, 0]}', 'PUT')).toMatchObject({
      status: 422,
      code: 'NON_FINITE',
    });
    expect(await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3, 4], k: 0 }))).toMatchObject({
      status: 422,
      code: 'OUT_OF_RANGE',
    });
    expect(await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3, 4], k: 1001 }))).toMatchObject({
      status: 422,
      code: 'OUT_OF_RANGE',
    });
    expect(await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3, 4], probe: 4 }))).toMatchObject({
      status: 422,
      code: 'OUT_OF_RANGE',
    });
    expect(
      await errorOf(await post(app, '/v1/search', { vector: [1, 2, 3, 4], image: 'AAAA' })),
    ).toMatchObject({
      status: 422,
      code: 'VALIDATION_FAILED',
    });
    expect(await errorOf(await put(app, 'y', { vector: [1, 2, 3, 4], label: 3 }))).toMatchObject({
      status: 422,
      code: 'LABEL_OUT_OF_RANGE',
    });
    expect(
      await errorOf(await put(app, 'y', { vector: [1, 2, 3, 4], metadata: { s: 'x'.repeat(17_000) } })),
    ).toMatchObject({
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
    });
    // a declared Content-Length over the limit is refused before the body is read
    const declared = await app.request('/v1/search', {
      method: 'POST',
      headers: { ...json, 'content-length': '4096' },
      body: '{}',
    });
    expect(await errorOf(declared)).toMatchObject({ status: 413, code: 'PAYLOAD_TOO_LARGE' });
    expect(await errorOf(await put(app, 'y', { vector: [1, 2, 3, 4], extra: 1 }))).toMatchObject({
      status: 422,
      code: 'VALIDATION_FAILED',
    });
    expect(await errorOf(await app.request('/v1/items/nope'))).toMatchObject({
      status: 404,
      code: 'NOT_FOUND',
    });
    expect(await errorOf(await app.request('/v1/items/a%01b'))).toMatchObject({
      status: 422,
      code: 'VALIDATION_FAILED',
    });
    expect(await errorOf(await put(app, 'x'.repeat(257), { vector: [1, 2, 3, 4] }))).toMatchObject({
      status: 422,
      code: 'VALIDATION_FAILED',
    });
    expect(await errorOf(await app.request('/v1/nothing'))).toMatchObject({
      status: 404,
      code: 'ROUTE_NOT_FOUND',
    });
    // an unsupported format and a corrupt PNG
    expect(
      await errorOf(await post(app, '/v1/search', { image: Buffer.from('GIF89a......').toString('base64') })),
    ).toMatchObject({ status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
    const broken = (await png(new Uint8Array(16))).subarray(0, 40);
    expect(await errorOf(await post(app, '/v1/search', { image: broken.toString('base64') }))).toMatchObject({
      status: 422,
      code: 'CORRUPT_IMAGE',
    });
    // a batch with one bad item stores none of them
    const batch = await post(
      app,
      '/v1/items',
      {
        items: [
          { id: 'p', vector: [1, 1, 1, 1] },
          { id: 'q', vector: [1, 1, 1] },
        ],
      },
      auth,
    );
    expect(await errorOf(batch)).toMatchObject({ status: 422, code: 'DIMENSION_MISMATCH' });
    expect(await catalog.size()).toBe(1);
    expect((await app.request('/v1/items/p')).status).toBe(404);
    expect(await catalog.get('keep')).toMatchObject({ id: 'keep' });
  });

  it('keeps metadata under its own limit', async () => {
    const { app } = await makeApp({ apiKeys: [KEY], metadataLimitBytes: 64 });
    expect(
      await errorOf(await put(app, 'm', { vector: [1, 2, 3, 4], metadata: { s: 'x'.repeat(100) } })),
    ).toMatchObject({
      status: 422,
      code: 'METADATA_TOO_LARGE',
    });
  });

  it('never sends a stack trace', async () => {
    const { catalog } = await makeApp();
    catalog.search = async () => {
      throw new Error('secret internals at /some/path.ts:12');
    };
    const app = createApp({ bundle, catalog });
    const res = await post(app, '/v1/search', { vector: [1, 2, 3, 4] });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: { code: 'INTERNAL', message: 'internal error' } });
  });
});

describe('auth, rate limit, CORS', () => {
  it('requires a key for writes: 401 missing, 403 wrong, 403 when no keys are configured', async () => {
    const { app } = await makeApp();
    expect(await errorOf(await put(app, 'a', { vector: [1, 2, 3, 4] }, {}))).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect(
      await errorOf(await put(app, 'a', { vector: [1, 2, 3, 4] }, { Authorization: 'Bearer nope' })),
    ).toMatchObject({
      status: 403,
      code: 'FORBIDDEN',
    });
    expect(
      await errorOf(await put(app, 'a', { vector: [1, 2, 3, 4] }, { Authorization: 'Basic abc' })),
    ).toMatchObject({
      status: 401,
      code: 'UNAUTHENTICATED',
    });
    expect((await app.request('/v1/items/a')).status).toBe(404);
    const closed = (await makeApp({})).app;
    expect(await errorOf(await put(closed, 'a', { vector: [1, 2, 3, 4] }))).toMatchObject({
      status: 403,
      code: 'WRITES_DISABLED',
    });
  });

  it('keys reads when configured', async () => {
    const { app } = await makeApp({ apiKeys: [KEY], readAuth: true });
    expect((await post(app, '/v1/search', { vector: [1, 2, 3, 4] })).status).toBe(401);
    expect((await post(app, '/v1/search', { vector: [1, 2, 3, 4] }, auth)).status).toBe(200);
    expect((await app.request('/v1/stats')).status).toBe(401);
    expect((await app.request('/healthz')).status).toBe(200);
  });

  it('rate-limits per key with 429 and Retry-After', async () => {
    const { app } = await makeApp({ apiKeys: [KEY, 'other-key'], rateLimit: { perSecond: 0.001, burst: 2 } });
    expect((await put(app, 'a', { vector: [1, 2, 3, 4] })).status).toBe(200);
    expect((await put(app, 'b', { vector: [1, 2, 3, 4] })).status).toBe(200);
    const limited = await put(app, 'c', { vector: [1, 2, 3, 4] });
    expect(await errorOf(limited)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(
      (await put(app, 'c', { vector: [1, 2, 3, 4] }, { Authorization: 'Bearer other-key' })).status,
    ).toBe(200);
  });

  it('sends CORS headers only when configured', async () => {
    const off = (await makeApp()).app;
    const res = await off.request('/v1/stats', { headers: { Origin: 'https://example.test' } });
    expect(res.headers.get('access-control-allow-origin')).toBeNull();
    const on = (await makeApp({ corsOrigins: ['https://example.test'] })).app;
    const allowed = await on.request('/v1/stats', { headers: { Origin: 'https://example.test' } });
    expect(allowed.headers.get('access-control-allow-origin')).toBe('https://example.test');
  });
});

describe('image queries', () => {
  it('embeds a PNG with the bundle model and searches with it (JSON base64 and multipart)', async () => {
    const { app } = await makeApp();
    const pixels = Uint8Array.from({ length: 16 }, (_, i) => i * 13);
    const expected = Array.from(linearEmbedding(pixels, fixture.weights!, DIM));
    await put(app, 'target', { vector: expected, label: 1 });
    await put(app, 'other', { vector: expected.map((x) => x + 1), label: 1 });
    const image = await png(pixels);
    const body = (await (
      await post(app, '/v1/search', { image: image.toString('base64'), k: 2, probe: 3 })
    ).json()) as {
      results: { id: string; distance: number }[];
      timing: { embedMs: number };
    };
    expect(body.results[0]!.id).toBe('target');
    expect(body.results[0]!.distance).toBeLessThan(1e-6);
    expect(body.results[1]!.distance).toBeCloseTo(4, 3);
    expect(body.timing.embedMs).toBeGreaterThan(0);

    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(image)], { type: 'image/png' }), 'q.png');
    form.append('k', '1');
    form.append('probe', '3');
    const multipart = (await (
      await app.request('/v1/search', { method: 'POST', body: form })
    ).json()) as typeof body;
    expect(multipart.results.map((r) => r.id)).toEqual(['target']);

    // an item added by image lands at the same embedding
    await put(app, 'by-image', { image: `data:image/png;base64,${image.toString('base64')}` });
    const stored = (await (await app.request('/v1/items/by-image')).json()) as { vector: number[] };
    stored.vector.forEach((v, i) => {
      expect(v).toBeCloseTo(expected[i]!, 3);
    });
  });

  it('resizes other sizes with fit fill and accepts JPEG and WebP', async () => {
    const { app } = await makeApp();
    await put(app, 'x', { vector: [0, 0, 0, 0] });
    const raw = Uint8Array.from({ length: 64 }, (_, i) => (i * 37) % 256);
    for (const format of ['jpeg', 'webp', 'png'] as const) {
      const image = await sharp(Buffer.from(raw), { raw: { width: 8, height: 8, channels: 1 } })
        .toFormat(format)
        .toBuffer();
      const res = await post(app, '/v1/search', { image: image.toString('base64'), k: 1 });
      expect(res.status).toBe(200);
    }
  });

  it('batches images that arrive together into one session run', async () => {
    const before = { ...embedder.counters };
    const inputs = Array.from({ length: 6 }, (_, q) =>
      Uint8Array.from({ length: 16 }, (_, i) => (i * 7 + q * 31) % 256),
    );
    const vectors = await Promise.all(inputs.map((p) => embedder.embed(p)));
    expect(embedder.counters.images - before.images).toBe(6);
    expect(embedder.counters.batches - before.batches).toBe(1);
    vectors.forEach((v, q) => {
      const expected = linearEmbedding(inputs[q]!, fixture.weights!, DIM);
      v.forEach((x, j) => {
        expect(x).toBeCloseTo(expected[j]!, 3);
      });
    });
  });

  it('refuses image queries clearly when the bundle has no model', async () => {
    const { app } = await makeApp({ apiKeys: [KEY] }, false);
    const image = await png(new Uint8Array(16));
    expect(await errorOf(await post(app, '/v1/search', { image: image.toString('base64') }))).toMatchObject({
      status: 422,
      code: 'IMAGE_QUERIES_UNAVAILABLE',
    });
    expect((await post(app, '/v1/search', { vector: [1, 2, 3, 4] })).status).toBe(200);
  });
});

describe('logs', () => {
  it('writes one JSON line per request with its request id, echoed in X-Request-Id', async () => {
    const lines: string[] = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(line) });
    const { catalog } = await makeApp();
    const app = createApp({ bundle, catalog, logger });
    const res = await app.request('/v1/items/none', { headers: { 'X-Request-Id': 'abc-123' } });
    expect(res.headers.get('x-request-id')).toBe('abc-123');
    const generated = (await app.request('/healthz')).headers.get('x-request-id');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(entries[0]).toMatchObject({
      reqId: 'abc-123',
      method: 'GET',
      route: '/v1/items/:id',
      status: 404,
      msg: 'request',
    });
    expect(entries[1]).toMatchObject({ reqId: generated, route: '/healthz', status: 200 });
  });
});

describe('metrics', () => {
  it('counts requests per route and candidates scanned', async () => {
    const { app } = await makeApp();
    await put(app, 'a', { vector: [10, 0, 0, 0] });
    await post(app, '/v1/search', { vector: [9, 0, 0, 0] });
    await post(app, '/v1/search', { vector: [9, 0, 0, 0] });
    await app.request('/v1/items/zzz');
    const text = await (await app.request('/metrics')).text();
    expect(text).toContain('anchorage_http_requests_total{method="POST",route="/v1/search",status="200"} 2');
    expect(text).toContain(
      'anchorage_http_requests_total{method="GET",route="/v1/items/:id",status="404"} 1',
    );
    expect(text).toContain(
      'anchorage_http_request_duration_seconds_count{method="POST",route="/v1/search"} 2',
    );
    expect(text).toContain('anchorage_search_candidates_scanned_total 2');
    expect(text).toContain('anchorage_index_items 1');
  });
});
