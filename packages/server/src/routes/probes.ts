import { createRoute, type OpenAPIHono, z } from '@hono/zod-openapi';
import { ApiError } from '../errors.js';
import { errorSchema } from '../schemas.js';
import type { RouteContext } from './context.js';
import { type Env, errorResponses, routeApp } from './http.js';

const healthz = createRoute({
  method: 'get',
  path: '/healthz',
  summary: 'Liveness: the process answers.',
  responses: { 200: { description: 'alive' } },
});

const readyz = createRoute({
  method: 'get',
  path: '/readyz',
  summary: 'Readiness: the model bundle and the index are loaded (`model` says whether image queries work).',
  responses: {
    200: { description: 'ready' },
    503: { description: 'loading', content: { 'application/json': { schema: errorSchema } } },
  },
});

const metricsRoute = createRoute({
  method: 'get',
  path: '/metrics',
  summary: 'Prometheus metrics (text exposition format). Needs the read key when reads do (--read-auth).',
  responses: {
    200: { description: 'metrics', content: { 'text/plain': { schema: z.string() } } },
    ...errorResponses([401, 403, 429]),
  },
});

/** `/healthz`, `/readyz` and `/metrics`. */
export function probeRoutes(ctx: RouteContext): OpenAPIHono<Env> {
  const app = routeApp();
  app.openapi(healthz, (c) => c.json({ status: 'ok' }));
  app.openapi(readyz, (c) =>
    ctx.ready()
      ? c.json({ ready: true, index: true, model: ctx.embedder !== undefined })
      : c.json(new ApiError(503, 'NOT_READY', 'the model or the index is still loading').toBody(), 503),
  );
  app.openapi({ ...metricsRoute, middleware: ctx.guard('read') }, async (c) => {
    const text = ctx.metrics.render({
      items: await ctx.catalog.size(),
      buckets: ctx.classes,
      imagesEmbedded: ctx.embedder?.counters.images ?? 0,
      embedBatches: ctx.embedder?.counters.batches ?? 0,
    });
    return c.text(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  return app;
}
