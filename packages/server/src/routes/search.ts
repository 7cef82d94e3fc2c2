import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import type { CatalogResult } from '../catalog.js';
import { ApiError } from '../errors.js';
import {
  batchSearchBodySchema,
  batchSearchResponseSchema,
  searchBodySchema,
  searchResponseSchema,
} from '../schemas.js';
import type { RouteContext } from './context.js';
import {
  type Env,
  errorResponses,
  ownBody,
  parseWith,
  preCheckFinite,
  readJson,
  routeApp,
  toVector,
} from './http.js';

const search = createRoute({
  method: 'post',
  path: '/v1/search',
  summary: 'Search by vector or by image: the k nearest items and the predicted classes.',
  description:
    'JSON with `vector` or base64 `image`, or multipart/form-data with an `image` file and optional `k`, `probe` and `labels` (comma-separated) fields. Distances are squared Euclidean.',
  request: {
    body: {
      required: true,
      content: {
        'application/json': { schema: ownBody('SearchRequest') },
        'multipart/form-data': {
          schema: {
            type: 'object',
            properties: {
              image: { type: 'string', format: 'binary' },
              k: { type: 'integer' },
              probe: { type: 'integer' },
              labels: { type: 'string' },
            },
          },
        },
      },
    },
  },
  responses: {
    200: { description: 'results', content: { 'application/json': { schema: searchResponseSchema } } },
    ...errorResponses([400, 401, 403, 413, 415, 422, 429, 503]),
  },
});

const searchBatch = createRoute({
  method: 'post',
  path: '/v1/search/batch',
  summary: 'Search many vectors at once (at most 1000).',
  request: {
    body: { required: true, content: { 'application/json': { schema: ownBody('BatchSearchRequest') } } },
  },
  responses: {
    200: {
      description: 'one result per query',
      content: { 'application/json': { schema: batchSearchResponseSchema } },
    },
    ...errorResponses([400, 401, 403, 413, 415, 422, 429, 503]),
  },
});

/** `POST /v1/search` (vector, base64 image or multipart image) and `POST /v1/search/batch`. */
export function searchRoutes(ctx: RouteContext): OpenAPIHono<Env> {
  const app = routeApp();
  app.openAPIRegistry.register('SearchRequest', searchBodySchema);
  app.openAPIRegistry.register('BatchSearchRequest', batchSearchBodySchema);
  const { dim, catalog, maxResponseBytes } = ctx;

  app.openapi({ ...search, middleware: ctx.guard('read') }, async (c) => {
    let leave: (() => void) | undefined;
    try {
      const start = performance.now();
      const type = c.req.header('content-type') ?? '';
      let query: Float32Array;
      let embedMs: number | undefined;
      let k: number;
      let probe: number;
      let labels: number[] | undefined;
      if (/^multipart\/form-data/i.test(type)) {
        let form: Record<string, string | File | (string | File)[]>;
        try {
          form = await c.req.parseBody({ all: true });
        } catch {
          throw new ApiError(400, 'MALFORMED_JSON', 'the multipart body could not be parsed');
        }
        const file = form.image;
        if (!(file instanceof File)) {
          throw new ApiError(
            422,
            'VALIDATION_FAILED',
            'multipart search needs one file field "image"',
            'image',
          );
        }
        const numberField = (name: string) => {
          const v = form[name];
          if (v === undefined) return undefined;
          if (typeof v !== 'string' || !/^-?\d+$/.test(v.trim())) {
            throw new ApiError(422, 'VALIDATION_FAILED', `${name} must be an integer`, name);
          }
          return Number(v);
        };
        const filterField = form.labels;
        const parsed = parseWith(searchBodySchema, {
          image: 'multipart',
          k: numberField('k'),
          probe: numberField('probe'),
          filter:
            typeof filterField === 'string' && filterField.trim() !== ''
              ? {
                  labels: filterField.split(',').map((s) => (/^\s*\d+\s*$/.test(s) ? Number(s) : Number.NaN)),
                }
              : undefined,
        });
        ({ k, probe } = parsed);
        labels = parsed.filter?.labels;
        ctx.checkProbe(probe);
        ctx.checkFilter(labels);
        leave = await ctx.admit({ queries: 1, k, probe, filtered: labels !== undefined });
        const embedded = await ctx.embedImage(new Uint8Array(await file.arrayBuffer()), 'image');
        query = embedded.vector;
        embedMs = embedded.ms;
      } else {
        const raw = await readJson(c);
        preCheckFinite((raw as { vector?: unknown } | null)?.vector, dim, 'vector');
        const body = parseWith(searchBodySchema, raw);
        ({ k, probe } = body);
        labels = body.filter?.labels;
        ctx.checkProbe(probe);
        ctx.checkFilter(labels);
        leave = await ctx.admit({ queries: 1, k, probe, filtered: labels !== undefined });
        if ((body.vector === undefined) === (body.image === undefined)) {
          throw new ApiError(422, 'VALIDATION_FAILED', 'give exactly one of "vector" and "image"', 'vector');
        }
        if (body.vector) {
          query = toVector(body.vector, dim, 'vector');
        } else {
          const embedded = await ctx.embedImage(body.image!, 'image');
          query = embedded.vector;
          embedMs = embedded.ms;
        }
      }
      const searchStart = performance.now();
      const [result] = await catalog.search(query, { k, probe, labels, maxResponseBytes });
      const end = performance.now();
      const timing: { totalMs: number; embedMs?: number; searchMs: number } = {
        totalMs: end - start,
        searchMs: end - searchStart,
      };
      if (embedMs !== undefined) timing.embedMs = embedMs;
      return c.json({ ...ctx.present(result!), timing }, 200);
    } finally {
      leave?.();
    }
  });

  app.openapi({ ...searchBatch, middleware: ctx.guard('read') }, async (c) => {
    const start = performance.now();
    const raw = await readJson(c);
    const rawVectors = (raw as { vectors?: unknown } | null)?.vectors;
    if (Array.isArray(rawVectors))
      rawVectors.forEach((v, i) => {
        preCheckFinite(v, dim, `vectors[${i}]`);
      });
    const body = parseWith(batchSearchBodySchema, raw);
    ctx.checkProbe(body.probe);
    ctx.checkFilter(body.filter?.labels);
    const leave = await ctx.admit({
      queries: body.vectors.length,
      k: body.k,
      probe: body.probe,
      filtered: body.filter !== undefined,
    });
    let results: CatalogResult[];
    let searchStart: number;
    try {
      const queries = new Float32Array(body.vectors.length * dim);
      body.vectors.forEach((v, i) => {
        queries.set(toVector(v, dim, `vectors[${i}]`), i * dim);
      });
      searchStart = performance.now();
      results = await catalog.search(queries, {
        k: body.k,
        probe: body.probe,
        labels: body.filter?.labels,
        maxResponseBytes,
      });
    } finally {
      leave();
    }
    const end = performance.now();
    return c.json(
      {
        queries: results.map(ctx.present),
        timing: { totalMs: end - start, searchMs: end - searchStart },
      },
      200,
    );
  });
  return app;
}
