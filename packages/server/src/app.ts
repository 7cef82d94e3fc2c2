import { randomUUID } from 'node:crypto';
import { OpenAPIHono } from '@hono/zod-openapi';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { secureHeaders } from 'hono/secure-headers';
import type pino from 'pino';
import type { ModelBundle } from './bundle.js';
import type { Catalog } from './catalog.js';
import type { DemoSample } from './demo-samples.js';
import type { OnnxEmbedder } from './embedder.js';
import { ApiError, toApiError } from './errors.js';
import type { Metrics } from './metrics.js';
import { createRouteContext } from './routes/context.js';
import type { Env } from './routes/http.js';
import { itemRoutes } from './routes/items.js';
import { pageRoutes } from './routes/pages.js';
import { probeRoutes } from './routes/probes.js';
import { searchRoutes } from './routes/search.js';
import { statsRoutes } from './routes/stats.js';
import type { SearchLimits } from './search-cost.js';

/** Behaviour the operator configures. */
export interface AppOptions {
  /** Bearer keys; writes are refused when there are none. */
  apiKeys?: readonly string[];
  /** Require a key for reads too (default false). */
  readAuth?: boolean;
  /** Origins allowed by CORS; empty (default) sends no CORS headers. `*` allows any. */
  corsOrigins?: readonly string[];
  /** Largest request body in bytes (default 16 MiB). */
  bodyLimitBytes?: number;
  /** Largest item metadata, as JSON text bytes (default 16 KiB). */
  metadataLimitBytes?: number;
  /** Per-client token bucket (client = API key, else remote address); off when absent. */
  rateLimit?: { perSecond: number; burst: number };
  /**
   * Failed authentications (401, 403) allowed per client address: `burst` at once, then
   * `perSecond`; past that the address gets 429 before its key is even looked at. Default 10 and
   * 0.5/s; `false` turns it off.
   */
  authFailureLimit?: { perSecond: number; burst: number } | false;
  /** Limits on one search request (results and work; see `searchCost`) and on the work admitted at once. */
  searchLimits?: Partial<SearchLimits>;
  /** Largest search answer in bytes of JSON, metadata included (default 64 MiB). */
  maxResponseBytes?: number;
  /** Images the demo page offers as sample queries (see `loadDemoSamples`). */
  demoSamples?: readonly DemoSample[];
}

/** What the app serves. */
export interface AppDeps {
  bundle: ModelBundle;
  catalog: Catalog;
  /** Present when the bundle has `model.onnx`. */
  embedder?: OnnxEmbedder;
  options?: AppOptions;
  logger?: pino.Logger;
  metrics?: Metrics;
  /** Whether model and index are loaded (default: always). */
  ready?: () => boolean;
}

/**
 * Builds the HTTP app: the middleware every request passes (security headers, request id and log
 * line, CORS, body limit), the error shape, and the route modules (`src/routes/`), each declaring
 * its routes once with `app.openapi(route, handler)` so the OpenAPI document is the handlers'.
 * Tests call `app.request()`; `startServer` serves it on a socket.
 * @example const app = createApp({ bundle, catalog }); const res = await app.request('/healthz');
 */
export function createApp(deps: AppDeps): OpenAPIHono<Env> {
  const ctx = createRouteContext(deps);
  const { options, log, metrics } = ctx;
  const app = new OpenAPIHono<Env>();

  // nosniff, no framing, no referrer on every answer (the pages add their CSP)
  app.use(
    '*',
    secureHeaders({
      xFrameOptions: 'DENY',
      crossOriginResourcePolicy: false,
      crossOriginOpenerPolicy: false,
      strictTransportSecurity: false,
    }),
  );

  app.use('*', async (c, next) => {
    const start = performance.now();
    const incoming = c.req.header('x-request-id');
    const requestId = incoming && /^[\w.:-]{1,128}$/.test(incoming) ? incoming : randomUUID();
    c.set('requestId', requestId);
    c.set('log', log.child({ reqId: requestId }));
    await next();
    c.header('x-request-id', requestId);
    const seconds = (performance.now() - start) / 1000;
    const route = routePath(c, -1);
    const routeLabel = route === '*' || route === '/*' || route === '' ? 'unmatched' : route;
    metrics.observeRequest(c.req.method, routeLabel, c.res.status, seconds);
    c.var.log.info(
      { method: c.req.method, path: c.req.path, route: routeLabel, status: c.res.status, ms: seconds * 1000 },
      'request',
    );
  });

  if (options.corsOrigins && options.corsOrigins.length > 0) {
    const origins = [...options.corsOrigins];
    app.use(
      '*',
      cors({
        origin: origins.includes('*') ? '*' : origins,
        allowHeaders: ['Authorization', 'Content-Type', 'X-Request-Id'],
        allowMethods: ['GET', 'POST', 'PUT', 'DELETE', 'OPTIONS'],
        exposeHeaders: ['X-Request-Id'],
      }),
    );
  }

  const limitBytes = options.bodyLimitBytes ?? 16 * 1024 * 1024;
  const tooLarge = () => new ApiError(413, 'PAYLOAD_TOO_LARGE', `the body is over ${limitBytes} bytes`);
  const streamingLimit = bodyLimit({
    maxSize: limitBytes,
    onError: () => {
      throw tooLarge();
    },
  });
  app.use('/v1/*', async (c, next) => {
    if (c.req.method === 'GET' || c.req.method === 'HEAD' || c.req.method === 'DELETE') return next();
    // Node's HTTP parser holds a body to its Content-Length, so the header settles the limit without
    // touching the body (which would cost a full Request object); chunked bodies are counted as read
    const declared = c.req.header('content-length');
    if (declared !== undefined && /^\d+$/.test(declared)) {
      if (Number(declared) > limitBytes) throw tooLarge();
      return next();
    }
    return streamingLimit(c, next);
  });

  app.onError((error, c) => {
    let apiError: ApiError;
    if (error instanceof HTTPException) {
      apiError =
        error.status === 400
          ? new ApiError(400, 'MALFORMED_JSON', 'the request body could not be parsed')
          : error.status === 413
            ? new ApiError(413, 'PAYLOAD_TOO_LARGE', 'the body is over the limit')
            : new ApiError(500, 'INTERNAL', 'internal error');
    } else {
      apiError = toApiError(error);
    }
    if (apiError.code === 'OVERLOADED') c.header('Retry-After', '1');
    if (apiError.status >= 500 && apiError.code !== 'OVERLOADED') {
      (c.var.log ?? log).error({ err: error }, 'unhandled error');
    }
    return c.json(apiError.toBody(), apiError.status);
  });

  app.notFound((c) =>
    c.json(new ApiError(404, 'ROUTE_NOT_FOUND', `no route ${c.req.method} ${c.req.path}`).toBody(), 404),
  );

  app.route('/', pageRoutes(ctx));
  app.route('/', probeRoutes(ctx));
  app.route('/', statsRoutes(ctx));
  app.route('/', searchRoutes(ctx));
  app.route('/', itemRoutes(ctx));

  app.doc('/openapi.json', {
    openapi: '3.0.3',
    info: {
      title: 'anchorage',
      version: '1',
      description:
        'Two-stage image retrieval over Class Anchor Margin embeddings. Distances are squared Euclidean. Errors are `{ error: { code, message } }`.',
    },
    components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
  } as never);
  return app;
}
