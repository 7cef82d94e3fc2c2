import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorIndex } from '@anchorage/retrieval';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppOptions, createApp } from './app.js';
import { loadBundle, type ModelBundle } from './bundle.js';
import { SAFE_IMAGE_SOURCE } from './demo-page.js';
import { MAX_METADATA_DEPTH, nestingDepth } from './schemas.js';
import { searchCost } from './search-cost.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { writeBundle } from './test-fixtures.js';

// Regression tests of the security review (issue 16), one block per finding.
const KEY = 'hardening-key';
const DIM = 4;
const auth = { Authorization: `Bearer ${KEY}` };
const json = { 'content-type': 'application/json' };
let root: string;
let bundle: ModelBundle;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'anchorage-hardening-'));
  // anchors 10·e0, 10·e1, 10·e2
  bundle = loadBundle(writeBundle(join(root, 'bundle'), { dim: DIM, classes: 3 }).dir);
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

async function makeApp(options: AppOptions = { apiKeys: [KEY] }) {
  const catalog = await SqliteCatalog.open({
    path: ':memory:',
    dim: DIM,
    anchors: bundle.anchors,
    createIndex: (o) => new AnchorIndex(o),
    loadIndex: (p) => AnchorIndex.load(p),
  });
  return { app: createApp({ bundle, catalog, options }), catalog };
}
type App = Awaited<ReturnType<typeof makeApp>>['app'];

function send(app: App, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  return app.request(path, {
    method,
    headers: { ...json, ...auth, ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
}

async function errorOf(res: Response) {
  const body = (await res.json()) as { error: { code: string; message: string; argument?: string } };
  return { status: res.status, ...body.error };
}

describe('1: ids that are not well-formed Unicode', () => {
  it('are refused in batch writes and paths, and nothing of the batch is stored', async () => {
    const { app, catalog } = await makeApp();
    for (const id of ['a\ud800', 'a\udc00', '\udbff\udbff', 'x\ude00y']) {
      const res = await send(app, 'POST', '/v1/items', {
        items: [
          { id: 'fine', vector: [1, 2, 3, 4] },
          { id, vector: [1, 2, 3, 4] },
        ],
      });
      expect(await errorOf(res)).toMatchObject({
        status: 422,
        code: 'VALIDATION_FAILED',
        argument: 'items[1].id',
        message: expect.stringMatching(/well-formed Unicode/),
      });
    }
    expect(await catalog.size()).toBe(0);
    // "." and ".." could be written but never addressed: URLs resolve them away
    for (const id of ['.', '..']) {
      expect(
        await errorOf(await send(app, 'POST', '/v1/items', { items: [{ id, vector: [1, 2, 3, 4] }] })),
      ).toMatchObject({
        status: 422,
        argument: 'items[0].id',
      });
    }
    expect(await catalog.size()).toBe(0);
    // a well-formed astral id is fine
    expect(
      (await send(app, 'POST', '/v1/items', { items: [{ id: '\ud83d\ude00', vector: [1, 2, 3, 4] }] }))
        .status,
    ).toBe(200);
  });
});

describe('2: bounded work per request', () => {
  // bucket 0 holds 40 items labelled 0, bucket 2 one item labelled 2
  async function filled(options?: AppOptions) {
    const made = await makeApp(options);
    await made.catalog.put([
      ...Array.from({ length: 40 }, (_, i) => ({
        id: `zero-${i}`,
        vector: new Float32Array([10 + i / 10, 0, 0, 0]),
        label: 0,
        metadata: undefined,
      })),
      { id: 'two', vector: new Float32Array([0, 0, 10, 0]), label: 2, metadata: { m: 'x'.repeat(100) } },
    ]);
    return made;
  }

  it('refuses filter labels past the classes, and negative ones, naming the label', async () => {
    const { app } = await filled();
    for (const path of ['/v1/search', '/v1/search/batch']) {
      const query = path === '/v1/search' ? { vector: [10, 0, 0, 0] } : { vectors: [[10, 0, 0, 0]] };
      expect(
        await errorOf(await send(app, 'POST', path, { ...query, filter: { labels: [0, 3] } })),
      ).toMatchObject({
        status: 422,
        code: 'LABEL_OUT_OF_RANGE',
        argument: 'filter.labels[1]',
        message: 'filter.labels[1] is 3, must be in 0..2',
      });
      expect(
        await errorOf(await send(app, 'POST', path, { ...query, filter: { labels: [-1] } })),
      ).toMatchObject({
        status: 422,
        argument: 'filter.labels[0]',
      });
    }
  });

  it('answers a filter that no probed bucket can satisfy after one scan, not a scan of everything', async () => {
    const { app } = await filled();
    const res = (await (
      await send(app, 'POST', '/v1/search', {
        vector: [10, 0, 0, 0],
        k: 5,
        probe: 1,
        filter: { labels: [2] },
      })
    ).json()) as { results: unknown[]; scanned: number };
    expect(res.results).toEqual([]);
    expect(res.scanned).toBe(40);
    // probing bucket 2 too finds the item, in at most two scans of the probed buckets
    const both = (await (
      await send(app, 'POST', '/v1/search', {
        vector: [10, 0, 0, 0],
        k: 5,
        probe: 3,
        filter: { labels: [2] },
      })
    ).json()) as { results: { id: string; distance: number }[]; scanned: number };
    expect(both.results.map((r) => r.id)).toEqual(['two']);
    expect(both.results[0]!.distance).toBeCloseTo(200, 4);
    expect(both.scanned).toBeLessThanOrEqual(2 * 41);
  });

  it('refuses more than 100,000 results per request, naming the limit', async () => {
    const { app } = await filled();
    const vectors = Array.from({ length: 1000 }, () => [1, 2, 3, 4]);
    expect(
      await errorOf(await send(app, 'POST', '/v1/search/batch', { vectors, k: 1000, probe: 3 })),
    ).toMatchObject({
      status: 422,
      code: 'REQUEST_TOO_LARGE',
      message: expect.stringMatching(/1000000, over the limit of 100000/),
    });
    expect((await send(app, 'POST', '/v1/search/batch', { vectors, k: 100, probe: 3 })).status).toBe(200);
  });

  it('refuses a search whose worst case passes the work limit, computed from the bucket sizes', async () => {
    // bucket sizes 40, 0, 1 and 3 anchors: one query with probe 2 may compare 3 + 41 vectors of 4
    expect(
      searchCost({ queries: 1, k: 1, probe: 2, filtered: false }, { dim: DIM, bucketSizes: [40, 0, 1] }).work,
    ).toBe((3 + 41) * 4);
    const { app } = await filled({ apiKeys: [KEY], searchLimits: { maxWork: 10 * (3 + 41) * 4 } });
    const vectors = (n: number) => Array.from({ length: n }, () => [1, 2, 3, 4]);
    expect((await send(app, 'POST', '/v1/search/batch', { vectors: vectors(10), probe: 2 })).status).toBe(
      200,
    );
    expect(
      await errorOf(await send(app, 'POST', '/v1/search/batch', { vectors: vectors(11), probe: 2 })),
    ).toMatchObject({
      status: 422,
      code: 'REQUEST_TOO_LARGE',
      message: expect.stringMatching(/over the limit of 1760 per request/),
    });
    // a filter may scan twice
    expect(
      await errorOf(
        await send(app, 'POST', '/v1/search/batch', {
          vectors: vectors(6),
          probe: 2,
          filter: { labels: [0] },
        }),
      ),
    ).toMatchObject({ status: 422, code: 'REQUEST_TOO_LARGE' });
  });

  it('stops an answer whose metadata passes the response limit', async () => {
    const { app } = await filled({ apiKeys: [KEY], maxResponseBytes: 1000 });
    expect((await send(app, 'POST', '/v1/search', { vector: [0, 0, 10, 0], k: 1, probe: 1 })).status).toBe(
      200,
    );
    expect(
      await errorOf(await send(app, 'POST', '/v1/search', { vector: [10, 0, 0, 0], k: 41, probe: 3 })),
    ).toMatchObject({
      status: 422,
      code: 'RESPONSE_TOO_LARGE',
      message: expect.stringMatching(/1000 bytes/),
    });
  });
});

describe('3: failed authentication is rate-limited per address', () => {
  it('turns an address away with 429 after its allowance of wrong keys, even with the right key', async () => {
    const { app } = await makeApp({ apiKeys: [KEY], authFailureLimit: { perSecond: 0.001, burst: 3 } });
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++) {
      statuses.push(
        (
          await send(
            app,
            'PUT',
            '/v1/items/a',
            { vector: [1, 2, 3, 4] },
            { Authorization: `Bearer guess-${i}` },
          )
        ).status,
      );
    }
    expect(statuses).toEqual([403, 403, 403, 429, 429, 429]);
    const right = await send(app, 'PUT', '/v1/items/a', { vector: [1, 2, 3, 4] });
    expect(await errorOf(right)).toMatchObject({ status: 429, code: 'RATE_LIMITED' });
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
  });

  it('is on by default (40 guesses do not all get 403)', async () => {
    const { app } = await makeApp();
    const statuses = new Set<number>();
    for (let i = 0; i < 40; i++) {
      statuses.add(
        (await send(app, 'GET', '/v1/stats', undefined, { Authorization: `Bearer guess-${i}` })).status,
      );
    }
    expect([...statuses].sort()).toEqual([403, 429]);
  });
});

describe('4: deeply nested metadata', () => {
  const nested = (depth: number) => {
    let value: unknown = 1;
    for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
    return value;
  };

  it('measures depth without recursion', () => {
    expect(nestingDepth(1, 32)).toBe(0);
    expect(nestingDepth({ a: [1, { b: 2 }] }, 32)).toBe(3);
    expect(nestingDepth(nested(32), 32)).toBe(32);
    expect(nestingDepth(nested(1_000_000), 32)).toBe(33);
  });

  it(`refuses metadata deeper than ${MAX_METADATA_DEPTH} levels with 422 naming the limit, at any depth`, async () => {
    const { app, catalog } = await makeApp({
      apiKeys: [KEY],
      metadataLimitBytes: 1 << 24,
      bodyLimitBytes: 1 << 24,
    });
    expect(
      (await send(app, 'PUT', '/v1/items/ok', { vector: [1, 2, 3, 4], metadata: nested(32) })).status,
    ).toBe(200);
    for (const depth of [33, 4000, 100_000]) {
      const body = `{"vector":[1,2,3,4],"metadata":${'['.repeat(depth)}${']'.repeat(depth)}}`;
      expect(await errorOf(await send(app, 'PUT', '/v1/items/deep', body))).toMatchObject({
        status: 422,
        code: 'METADATA_TOO_DEEP',
        argument: 'metadata',
        message: `metadata: nests deeper than ${MAX_METADATA_DEPTH} levels (the limit)`,
      });
      const batch = `{"items":[{"id":"d","vector":[1,2,3,4],"metadata":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}]}`;
      expect(await errorOf(await send(app, 'POST', '/v1/items', batch))).toMatchObject({
        status: 422,
        code: 'METADATA_TOO_DEEP',
        argument: 'items[0].metadata',
      });
    }
    expect(await catalog.size()).toBe(1);
  });
});

describe('6: --read-auth covers /metrics', () => {
  it('keys /metrics when reads are keyed, and leaves the static pages open', async () => {
    const { app } = await makeApp({ apiKeys: [KEY], readAuth: true });
    expect((await app.request('/metrics')).status).toBe(401);
    expect((await app.request('/metrics', { headers: auth })).status).toBe(200);
    for (const path of ['/', '/docs', '/openapi.json', '/healthz', '/readyz'])
      expect((await app.request(path)).status, path).toBe(200);
    expect((await (await makeApp()).app.request('/metrics')).status).toBe(200);
  });
});

describe('9: security headers and the demo page image check', () => {
  it('sends a CSP with a fresh nonce that matches the inline script and style of each page', async () => {
    const { app } = await makeApp();
    const nonces = new Set<string>();
    for (const path of ['/', '/docs', '/']) {
      const res = await app.request(path);
      const csp = res.headers.get('content-security-policy')!;
      expect(csp).toMatch(/default-src 'none'/);
      expect(csp).toMatch(/frame-ancestors 'none'/);
      expect(csp).toMatch(/img-src 'self' data: blob:/);
      expect(res.headers.get('x-frame-options')).toBe('DENY');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)![1]!;
      nonces.add(nonce);
      const html = await res.text();
      expect(html).toContain(`<script nonce="${nonce}">`);
      expect(html).toContain(`<style nonce="${nonce}">`);
      expect(html).not.toMatch(/ style="/);
    }
    expect(nonces.size).toBe(3);
    const api = await app.request('/v1/stats');
    expect(api.headers.get('x-content-type-options')).toBe('nosniff');
  });

  it('shows only data: raster images and same-origin paths from metadata', () => {
    const safe = new Function(`${SAFE_IMAGE_SOURCE}; return safeImageSource;`)() as (
      src: unknown,
      base: string,
    ) => boolean;
    const base = 'http://127.0.0.1:8080/';
    for (const ok of [
      '/thumbs/a.png',
      '/a?b=//c',
      'data:image/png;base64,iVBORw0KGgo=',
      'data:image/jpeg;base64,/9j/',
    ])
      expect(safe(ok, base), ok).toBe(true);
    for (const bad of [
      '//evil.example/a.png',
      '/\\evil.example/a.png',
      '/\t/evil.example/a.png',
      '/\n/evil.example/a.png',
      'https://evil.example/a.png',
      'http://127.0.0.1:8080.evil.example/a.png',
      'javascript:alert(1)',
      'data:text/html;base64,PHNjcmlwdD4=',
      'data:image/svg+xml;base64,PHN2Zz4=',
      ' /a.png',
      '',
      42,
    ])
      expect(safe(bad, base), String(bad)).toBe(false);
  });
});

describe('10: smaller findings', () => {
  it('names a bad path id as "id"', async () => {
    const { app } = await makeApp();
    for (const method of ['PUT', 'GET', 'DELETE']) {
      const res = await send(
        app,
        method,
        '/v1/items/a%01b',
        method === 'PUT' ? { vector: [1, 2, 3, 4] } : undefined,
      );
      expect(await errorOf(res)).toMatchObject({
        status: 422,
        argument: 'id',
        message: expect.stringMatching(/^id: /),
      });
    }
  });

  it('refuses JSON in a charset other than UTF-8 with 415, and takes UTF-8 spelled any way', async () => {
    const { app } = await makeApp();
    for (const type of [
      'application/json; charset=utf-16',
      'application/json;charset=ISO-8859-1',
      'application/json; charset="utf-32"',
    ]) {
      expect(
        await errorOf(
          await send(app, 'PUT', '/v1/items/a', { vector: [1, 2, 3, 4] }, { 'content-type': type }),
        ),
      ).toMatchObject({
        status: 415,
        code: 'UNSUPPORTED_MEDIA_TYPE',
      });
    }
    for (const type of [
      'application/json',
      'application/json; charset=utf-8',
      'application/json;charset="UTF-8"',
      'application/merge-patch+json; charset=utf8',
    ]) {
      expect(
        (await send(app, 'PUT', '/v1/items/a', { vector: [1, 2, 3, 4] }, { 'content-type': type })).status,
        type,
      ).toBe(200);
    }
    expect(
      (
        await send(
          app,
          'PUT',
          '/v1/items/a',
          { vector: [1, 2, 3, 4] },
          { 'content-type': 'application/jsonx' },
        )
      ).status,
    ).toBe(415);
  });

  it('refuses a batch that repeats an id, naming both places, and stores none of it', async () => {
    const { app, catalog } = await makeApp();
    const res = await send(app, 'POST', '/v1/items', {
      items: [
        { id: 'x', vector: [1, 2, 3, 4] },
        { id: 'y', vector: [1, 2, 3, 4] },
        { id: 'x', vector: [4, 3, 2, 1] },
      ],
    });
    expect(await errorOf(res)).toMatchObject({
      status: 422,
      code: 'DUPLICATE_ID',
      argument: 'items[2].id',
      message: 'items[2].id "x" repeats items[0].id; send each id once per batch',
    });
    expect(await catalog.size()).toBe(0);
  });

  it('writes nested schema paths as the other errors do: items[0].id', async () => {
    const { app } = await makeApp();
    expect(
      await errorOf(await send(app, 'POST', '/v1/items', { items: [{ id: '', vector: [1, 2, 3, 4] }] })),
    ).toMatchObject({
      status: 422,
      argument: 'items[0].id',
    });
  });
});
