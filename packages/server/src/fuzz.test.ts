import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorIndex } from '@anchorage/retrieval';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { loadBundle } from './bundle.js';
import { SqliteCatalog } from './sqlite-catalog.js';
import { writeBundle } from './test-fixtures.js';

const KEY = 'fuzz-key';
const DIM = 4;
let root: string;
let catalog: SqliteCatalog;
let app: ReturnType<typeof createApp>;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'anchorage-fuzz-'));
  const bundle = loadBundle(writeBundle(join(root, 'bundle'), { dim: DIM, classes: 3 }).dir);
  catalog = await SqliteCatalog.open({
    path: ':memory:',
    dim: DIM,
    anchors: bundle.anchors,
    createIndex: (o) => new AnchorIndex(o),
    loadIndex: (p) => AnchorIndex.load(p),
  });
  await catalog.put([
    { id: 'a', vector: new Float32Array([1, 2, 3, 4]), label: 0, metadata: { x: 1 } },
    { id: 'b', vector: new Float32Array([4, 3, 2, 1]), label: undefined, metadata: undefined },
  ]);
  app = createApp({ bundle, catalog, options: { apiKeys: [KEY], bodyLimitBytes: 64 * 1024 } });
});
afterAll(async () => {
  await catalog.close();
  rmSync(root, { recursive: true, force: true });
});

async function fingerprint(): Promise<string> {
  const ids = ['a', 'b', 'x', '0', ''];
  const items = await Promise.all(ids.map(async (id) => (id ? await catalog.get(id) : undefined)));
  return JSON.stringify({
    size: await catalog.size(),
    items: items.map((it) => it && { ...it, vector: [...it.vector] }),
  });
}

// values shaped like the API's fields, often almost right, mixed with arbitrary JSON
const number = fc.oneof(
  fc.double(),
  fc.integer({ min: -5, max: 2000 }),
  fc.constantFrom(0, -0, 1e39, -1e39, 1e308, 5e-324),
);
const vector = fc.oneof(
  fc.array(number, { minLength: 0, maxLength: 6 }),
  fc.array(fc.float({ noNaN: true, noDefaultInfinity: true }), { minLength: DIM, maxLength: DIM }),
  fc.jsonValue(),
);
const field = fc.oneof(number, fc.string(), fc.jsonValue(), fc.constant(null));
const searchBody = fc.record(
  {
    vector,
    image: fc.oneof(fc.string(), fc.base64String(), fc.constant('data:image/png;base64,iVBORw0KGgo=')),
    k: field,
    probe: field,
    filter: fc.oneof(fc.record({ labels: fc.array(field) }), field),
    extra: field,
  },
  { requiredKeys: [] },
);
const itemBody = fc.record(
  { vector, image: fc.base64String(), label: field, metadata: fc.jsonValue(), id: fc.string() },
  { requiredKeys: [] },
);
const body = fc.oneof(
  searchBody.map((b) => JSON.stringify(b)),
  itemBody.map((b) => JSON.stringify(b)),
  fc.record({ items: fc.oneof(fc.array(itemBody, { maxLength: 4 }), field) }).map((b) => JSON.stringify(b)),
  fc
    .record({ vectors: fc.oneof(fc.array(vector, { maxLength: 4 }), field), k: field })
    .map((b) => JSON.stringify(b)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string(),
  fc.constant('{"vector": [1, 2'),
  fc.constant(''),
);
const route = fc.constantFrom(
  ['POST', '/v1/search'],
  ['POST', '/v1/search/batch'],
  ['POST', '/v1/items'],
  ['PUT', '/v1/items/x'],
  ['PUT', '/v1/items/a'],
  ['GET', '/v1/items/a'],
  ['DELETE', '/v1/items/%00'],
  ['GET', '/v1/stats'],
  ['PATCH', '/v1/items/a'],
  ['POST', '/v1/nothing'],
);
const contentType = fc.constantFrom(
  'application/json',
  'text/plain',
  'multipart/form-data; boundary=x',
  undefined,
);
const authorization = fc.constantFrom(`Bearer ${KEY}`, 'Bearer wrong', 'Basic x', undefined);

describe('random bodies at every route', () => {
  it('never answer 5xx, always answer JSON errors, and change nothing unless they succeed', async () => {
    const seen = new Map<string, number>();
    await fc.assert(
      fc.asyncProperty(route, body, contentType, authorization, async ([method, path], text, type, auth) => {
        const before = await fingerprint();
        const headers: Record<string, string> = {};
        if (type) headers['content-type'] = type;
        if (auth) headers.authorization = auth;
        const res = await app.request(path!, {
          method,
          headers,
          body: method === 'GET' || method === 'DELETE' ? undefined : text,
        });
        expect(res.status).toBeLessThan(500);
        if (res.status >= 400) {
          const err = (await res.json()) as { error: { code: string; message: string } };
          seen.set(`${res.status} ${err.error.code}`, (seen.get(`${res.status} ${err.error.code}`) ?? 0) + 1);
          expect(err.error.code).toMatch(/^[A-Z_]+$/);
          expect(err.error.message.length).toBeGreaterThan(0);
          expect(await fingerprint()).toBe(before);
        }
      }),
      { numRuns: 1500, seed: 42 },
    );
    // the generator reaches the interesting rejections, not only the first gate
    for (const kind of [
      '400 MALFORMED_JSON',
      '401 UNAUTHENTICATED',
      '403 FORBIDDEN',
      '404 ROUTE_NOT_FOUND',
      '415 UNSUPPORTED_MEDIA_TYPE',
      '422 VALIDATION_FAILED',
    ]) {
      expect(seen.get(kind), `${kind} in ${[...seen.keys()]}`).toBeGreaterThan(0);
    }
  }, 120_000);
});
