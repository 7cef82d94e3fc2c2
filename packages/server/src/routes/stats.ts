import { createRoute, type OpenAPIHono } from '@hono/zod-openapi';
import { statsSchema } from '../schemas.js';
import type { RouteContext } from './context.js';
import { type Env, errorResponses, routeApp } from './http.js';

const stats = createRoute({
  method: 'get',
  path: '/v1/stats',
  summary: 'Items, buckets and their sizes, anchors, the model manifest.',
  responses: {
    200: { description: 'stats', content: { 'application/json': { schema: statsSchema } } },
    ...errorResponses([401, 403, 429]),
  },
});

/** `GET /v1/stats`. */
export function statsRoutes(ctx: RouteContext): OpenAPIHono<Env> {
  const app = routeApp();
  const { geometry } = ctx;
  const anchorGeometry = {
    minNorm: geometry.minNorm,
    meanNorm: geometry.meanNorm,
    minDistance: geometry.minDistance,
    meanDistance: geometry.meanDistance,
  };
  app.openapi({ ...stats, middleware: ctx.guard('read') }, async (c) => {
    const sizes = await ctx.catalog.bucketSizes();
    return c.json(
      {
        items: await ctx.catalog.size(),
        dim: ctx.dim,
        storage: ctx.catalog.kind,
        imageQueries: ctx.embedder !== undefined,
        anchors: ctx.classes,
        anchorGeometry,
        buckets: sizes.map((size, i) => ({
          class: i,
          name: ctx.bundle.classes[i]!,
          size,
          anchorNorm: geometry.norms[i]!,
        })),
        manifest: ctx.bundle.manifest,
      },
      200,
    );
  });
  return app;
}
