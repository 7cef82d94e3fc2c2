import { randomUUID } from 'node:crypto';
import { anchorStats } from '@anchorage/loss-core';
import { createRoute, OpenAPIHono, type RouteConfig, z } from '@hono/zod-openapi';
import type { Context, MiddlewareHandler } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import { cors } from 'hono/cors';
import { HTTPException } from 'hono/http-exception';
import { routePath } from 'hono/route';
import { NONCE, type SecureHeadersVariables, secureHeaders } from 'hono/secure-headers';
import pino from 'pino';
import { apiPage } from './api-page.js';
import { ApiKeys } from './auth.js';
import type { ModelBundle } from './bundle.js';
import { type Catalog, type CatalogResult, checkBatchIds, type ItemRecord } from './catalog.js';
import { demoPage } from './demo-page.js';
import type { DemoSample } from './demo-samples.js';
import type { OnnxEmbedder } from './embedder.js';
import { ApiError, type ApiErrorCode, toApiError } from './errors.js';
import { decodeImage } from './image.js';
import { Metrics } from './metrics.js';
import { RateLimiter } from './rate-limit.js';
import {
  batchSearchBodySchema,
  batchSearchResponseSchema,
  errorSchema,
  itemIdSchema,
  itemSchema,
  putItemBodySchema,
  putItemsBodySchema,
  searchBodySchema,
  searchResponseSchema,
  statsSchema,
} from './schemas.js';
import {
  checkSearchCost,
  DEFAULT_SEARCH_LIMITS,
  SearchAdmission,
  type SearchLimits,
  type SearchShape,
  searchCost,
} from './search-cost.js';

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

type Env = { Variables: { requestId: string; log: pino.Logger } };

const JSON_ERRORS = {
  400: 'Malformed JSON',
  401: 'Missing or malformed API key',
  403: 'Wrong API key, or writes disabled',
  404: 'Unknown id',
  413: 'Body over the limit',
  415: 'Unsupported content type or image format',
  422: 'Invalid input',
  429: 'Rate limited',
} as const;

function errorResponses(statuses: (keyof typeof JSON_ERRORS)[]): RouteConfig['responses'] {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: JSON_ERRORS[s], content: { 'application/json': { schema: errorSchema } } },
    ]),
  );
}

function describe(config: RouteConfig): RouteConfig {
  return createRoute(config);
}

/** A zod issue path as the API's other errors write it: `items[0].id`. */
function argumentPath(path: readonly PropertyKey[], base: string): string {
  let out = '';
  for (const part of path) out += typeof part === 'number' ? `[${part}]` : `${out ? '.' : ''}${String(part)}`;
  return out || base;
}

/**
 * First zod issue, as a client-facing error: ranges are OUT_OF_RANGE, custom checks may name their
 * own code, the rest VALIDATION_FAILED. `base` names the value when the issue is about all of it.
 */
function zodError(error: z.ZodError, base: string): ApiError {
  const issue = error.issues[0]!;
  const where = argumentPath(issue.path, base);
  const range = issue.code === 'too_big' || issue.code === 'too_small';
  const numeric = range && (issue as { origin?: string }).origin === 'number';
  const own =
    issue.code === 'custom' ? (issue.params as { apiCode?: ApiErrorCode } | undefined)?.apiCode : undefined;
  return new ApiError(
    422,
    own ?? (numeric ? 'OUT_OF_RANGE' : 'VALIDATION_FAILED'),
    `${where}: ${issue.message}`,
    where,
  );
}

function parseWith<T>(schema: z.ZodType<T>, value: unknown, base = 'body'): T {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw zodError(parsed.error, base);
  return parsed.data;
}

async function readJson(c: Context): Promise<unknown> {
  const type = c.req.header('content-type') ?? '';
  const match = /^\s*application\/(?:[\w.+-]+\+)?json\s*(;.*)?$/i.exec(type);
  if (!match) {
    throw new ApiError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send Content-Type: application/json');
  }
  // the body is read as UTF-8 (JSON's only encoding on the wire, RFC 8259): another charset would
  // be silently misread, so it is refused
  const charset = /;\s*charset\s*=\s*"?([^";\s]*)"?/i.exec(match[1] ?? '')?.[1];
  if (charset !== undefined && !/^utf-?8$/i.test(charset)) {
    throw new ApiError(
      415,
      'UNSUPPORTED_MEDIA_TYPE',
      `charset ${JSON.stringify(charset)} is not supported: send UTF-8 JSON (charset=utf-8 or none)`,
    );
  }
  const text = await c.req.text();
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(400, 'MALFORMED_JSON', 'the request body is not valid JSON');
  }
}

/**
 * Converts a JSON vector to float32, refusing a wrong length and values that are not finite
 * (JSON's `1e999` parses to Infinity; `1e39` overflows float32).
 */
function toVector(values: readonly number[], dim: number, argument: string): Float32Array {
  if (values.length !== dim) {
    throw new ApiError(
      422,
      'DIMENSION_MISMATCH',
      `${argument} has ${values.length} numbers, expected ${dim}`,
      argument,
    );
  }
  const out = Float32Array.from(values);
  for (let i = 0; i < dim; i++) {
    if (!Number.isFinite(out[i]!)) {
      throw new ApiError(
        422,
        'NON_FINITE',
        `${argument}[${i}] is ${values[i]}, not a finite float32 number`,
        `${argument}[${i}]`,
      );
    }
  }
  return out;
}

/** Checks an all-number vector before the schema does: zod calls Infinity a type error, the API calls it NON_FINITE. */
function preCheckFinite(value: unknown, dim: number, argument: string): void {
  if (Array.isArray(value) && value.every((v) => typeof v === 'number'))
    toVector(value as number[], dim, argument);
}

function decodeBase64(text: string, argument: string): Uint8Array {
  const body = text.replace(/^data:[^,]*;base64,/, '').replace(/\s+/g, '');
  if (body.length === 0 || body.length % 4 === 1 || !/^[A-Za-z0-9+/_-]*={0,2}$/.test(body)) {
    throw new ApiError(422, 'CORRUPT_IMAGE', `${argument} is not valid base64`, argument);
  }
  return Buffer.from(body, 'base64');
}

/**
 * Builds the HTTP app. Tests call `app.request()`; `startServer` serves it on a socket.
 * @example const app = createApp({ bundle, catalog }); const res = await app.request('/healthz');
 */
export function createApp(deps: AppDeps): OpenAPIHono<Env> {
  const { bundle, catalog, embedder } = deps;
  const options = deps.options ?? {};
  const log = deps.logger ?? pino({ level: 'silent' });
  const metrics = deps.metrics ?? new Metrics();
  const keys = new ApiKeys(options.apiKeys ?? []);
  const ready = deps.ready ?? (() => true);
  const metadataLimit = options.metadataLimitBytes ?? 16 * 1024;
  const limiter = options.rateLimit
    ? new RateLimiter(options.rateLimit.perSecond, options.rateLimit.burst)
    : undefined;
  const failureLimit = options.authFailureLimit ?? { perSecond: 0.5, burst: 10 };
  const failures = failureLimit ? new RateLimiter(failureLimit.perSecond, failureLimit.burst) : undefined;
  const searchLimits: SearchLimits = { ...DEFAULT_SEARCH_LIMITS, ...options.searchLimits };
  const admission = new SearchAdmission(searchLimits.maxQueuedWork);
  const maxResponseBytes = options.maxResponseBytes ?? 64 * 1024 * 1024;
  const dim = bundle.dim;
  const classes = bundle.classes.length;
  const geometry = anchorStats(bundle.anchors, dim);
  const anchorGeometry = {
    minNorm: geometry.minNorm,
    meanNorm: geometry.meanNorm,
    minDistance: geometry.minDistance,
    meanDistance: geometry.meanDistance,
  };

  const app = new OpenAPIHono<Env>();

  // nosniff, no framing, no referrer on every answer; the pages add a CSP that allows only their
  // own inline style and script (by nonce), images from this server, data: and blob:
  app.use(
    '*',
    secureHeaders({
      xFrameOptions: 'DENY',
      crossOriginResourcePolicy: false,
      crossOriginOpenerPolicy: false,
      strictTransportSecurity: false,
    }),
  );
  const pageHeaders = secureHeaders({
    xFrameOptions: 'DENY',
    strictTransportSecurity: false,
    contentSecurityPolicy: {
      defaultSrc: ["'none'"],
      scriptSrc: [NONCE],
      styleSrc: [NONCE],
      imgSrc: ["'self'", 'data:', 'blob:'],
      connectSrc: ["'self'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
  });

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

  // Guesses at a key are counted per address, and an address over its allowance is turned away
  // before its key is checked, so a wrong key costs the guesser time, not only a 403.
  const authenticate = (c: Context, header: string | undefined): string => {
    const address = remote(c);
    if (failures) {
      const wait = failures.delay(address);
      if (wait > 0) {
        c.header('Retry-After', String(Math.ceil(wait)));
        throw new ApiError(
          429,
          'RATE_LIMITED',
          `too many failed authentications from this address; retry in ${Math.ceil(wait)} s`,
        );
      }
    }
    try {
      return keys.authenticate(header);
    } catch (error) {
      failures?.take(address);
      throw error;
    }
  };

  const guard =
    (kind: 'read' | 'write'): MiddlewareHandler<Env> =>
    async (c, next) => {
      let client: string;
      if (kind === 'write' && !keys.enabled) {
        throw new ApiError(
          403,
          'WRITES_DISABLED',
          'writes need an API key and none is configured (ANCHORAGE_API_KEYS)',
        );
      }
      const header = c.req.header('authorization');
      if (kind === 'write' || options.readAuth || header) {
        if (kind === 'read' && !options.readAuth && header && !keys.enabled) {
          client = remote(c);
        } else {
          client = `key:${authenticate(c, header)}`;
        }
      } else {
        client = remote(c);
      }
      if (limiter) {
        const wait = limiter.take(client);
        if (wait > 0) {
          c.header('Retry-After', String(Math.ceil(wait)));
          throw new ApiError(429, 'RATE_LIMITED', `rate limit exceeded; retry in ${Math.ceil(wait)} s`);
        }
      }
      await next();
    };

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

  // ---- documentation-only registration: handlers parse bodies themselves so every error is ours
  const register = (config: RouteConfig) => app.openAPIRegistry.registerPath(describe(config));

  const embedImage = async (
    text: string | Uint8Array,
    argument: string,
  ): Promise<{ vector: Float32Array; ms: number }> => {
    if (!embedder || !bundle.manifest.input) {
      throw new ApiError(
        422,
        'IMAGE_QUERIES_UNAVAILABLE',
        'this model bundle has no model.onnx, so only vector queries are served',
        argument,
      );
    }
    const start = performance.now();
    const bytes = typeof text === 'string' ? decodeBase64(text, argument) : text;
    const pixels = await decodeImage(bytes, bundle.manifest.input);
    const vector = await embedder.embed(pixels);
    return { vector, ms: performance.now() - start };
  };

  const checkProbe = (probe: number) => {
    if (probe > classes) {
      throw new ApiError(422, 'OUT_OF_RANGE', `probe is ${probe}, must be between 1 and ${classes}`, 'probe');
    }
  };

  /** Filter labels past the classes can match nothing: refuse them rather than scan for nothing. */
  const checkFilter = (labels: readonly number[] | undefined) => {
    labels?.forEach((label, i) => {
      checkLabel(label, `filter.labels[${i}]`);
    });
  };

  /**
   * Refuses a search whose worst case passes the limits, before any of it runs, or that would pass
   * the work already admitted (the same cost bounds both); returns the function that releases it.
   */
  const admit = async (shape: SearchShape) => {
    const bucketSizes = await catalog.bucketSizes();
    const cost = searchCost(shape, { dim, bucketSizes });
    checkSearchCost(cost, searchLimits);
    return admission.enter(cost.work);
  };

  const checkLabel = (label: number | undefined, argument: string) => {
    if (label !== undefined && label >= classes) {
      throw new ApiError(
        422,
        'LABEL_OUT_OF_RANGE',
        `${argument} is ${label}, must be in 0..${classes - 1}`,
        argument,
      );
    }
  };

  const checkMetadata = (metadata: unknown, argument: string) => {
    if (metadata === undefined) return;
    const bytes = Buffer.byteLength(JSON.stringify(metadata));
    if (bytes > metadataLimit) {
      throw new ApiError(
        422,
        'METADATA_TOO_LARGE',
        `${argument} is ${bytes} bytes of JSON, over ${metadataLimit}`,
        argument,
      );
    }
  };

  const present = (r: CatalogResult) => {
    metrics.observeSearch(r.scanned);
    return {
      results: r.hits.map((h) => ({
        id: h.id,
        distance: h.distance,
        label: h.label ?? null,
        bucket: h.bucket,
        metadata: h.metadata ?? null,
      })),
      anchors: r.probed.map((p) => ({
        class: p.anchor,
        name: bundle.classes[p.anchor] ?? String(p.anchor),
        distance: p.distance,
      })),
      scanned: r.scanned,
    };
  };

  // ---- pages and probes
  const nonce = (c: Context) =>
    (c as Context<{ Variables: SecureHeadersVariables }>).get('secureHeadersNonce')!;
  app.get('/', pageHeaders, (c) => c.html(demoPage(nonce(c), options.demoSamples)));
  app.get('/docs', pageHeaders, (c) => c.html(apiPage(nonce(c))));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  register({
    method: 'get',
    path: '/healthz',
    summary: 'Liveness: the process answers.',
    responses: { 200: { description: 'alive' } },
  });
  app.get('/readyz', (c) =>
    ready()
      ? c.json({ ready: true, index: true, model: embedder !== undefined })
      : c.json(new ApiError(503, 'NOT_READY', 'the model or the index is still loading').toBody(), 503),
  );
  register({
    method: 'get',
    path: '/readyz',
    summary:
      'Readiness: the model bundle and the index are loaded (`model` says whether image queries work).',
    responses: {
      200: { description: 'ready' },
      503: { description: 'loading', content: { 'application/json': { schema: errorSchema } } },
    },
  });
  app.get('/metrics', guard('read'), async (c) => {
    const text = metrics.render({
      items: await catalog.size(),
      buckets: classes,
      imagesEmbedded: embedder?.counters.images ?? 0,
      embedBatches: embedder?.counters.batches ?? 0,
    });
    return c.text(text, 200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' });
  });
  register({
    method: 'get',
    path: '/metrics',
    summary: 'Prometheus metrics (text exposition format). Needs the read key when reads do (--read-auth).',
    responses: {
      200: { description: 'metrics', content: { 'text/plain': { schema: { type: 'string' } } } },
      ...errorResponses([401, 403, 429]),
    },
  });

  // ---- stats
  app.get('/v1/stats', guard('read'), async (c) => {
    const sizes = await catalog.bucketSizes();
    return c.json({
      items: await catalog.size(),
      dim,
      storage: catalog.kind,
      imageQueries: embedder !== undefined,
      anchors: classes,
      anchorGeometry,
      buckets: sizes.map((size, i) => ({
        class: i,
        name: bundle.classes[i]!,
        size,
        anchorNorm: geometry.norms[i]!,
      })),
      manifest: bundle.manifest,
    });
  });
  register({
    method: 'get',
    path: '/v1/stats',
    summary: 'Items, buckets and their sizes, anchors, the model manifest.',
    responses: {
      200: { description: 'stats', content: { 'application/json': { schema: statsSchema } } },
      ...errorResponses([401, 403, 429]),
    },
  });

  // ---- search
  app.post('/v1/search', guard('read'), async (c) => {
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
        checkProbe(probe);
        checkFilter(labels);
        leave = await admit({ queries: 1, k, probe, filtered: labels !== undefined });
        const embedded = await embedImage(new Uint8Array(await file.arrayBuffer()), 'image');
        query = embedded.vector;
        embedMs = embedded.ms;
      } else {
        const raw = await readJson(c);
        preCheckFinite((raw as { vector?: unknown } | null)?.vector, dim, 'vector');
        const body = parseWith(searchBodySchema, raw);
        ({ k, probe } = body);
        labels = body.filter?.labels;
        checkProbe(probe);
        checkFilter(labels);
        leave = await admit({ queries: 1, k, probe, filtered: labels !== undefined });
        if ((body.vector === undefined) === (body.image === undefined)) {
          throw new ApiError(422, 'VALIDATION_FAILED', 'give exactly one of "vector" and "image"', 'vector');
        }
        if (body.vector) {
          query = toVector(body.vector, dim, 'vector');
        } else {
          const embedded = await embedImage(body.image!, 'image');
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
      return c.json({ ...present(result!), timing });
    } finally {
      leave?.();
    }
  });
  register({
    method: 'post',
    path: '/v1/search',
    summary: 'Search by vector or by image: the k nearest items and the predicted classes.',
    description:
      'JSON with `vector` or base64 `image`, or multipart/form-data with an `image` file and optional `k`, `probe` and `labels` (comma-separated) fields. Distances are squared Euclidean.',
    request: {
      body: {
        required: true,
        content: {
          'application/json': { schema: searchBodySchema },
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
      ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
    },
  });

  app.post('/v1/search/batch', guard('read'), async (c) => {
    const start = performance.now();
    const raw = await readJson(c);
    const rawVectors = (raw as { vectors?: unknown } | null)?.vectors;
    if (Array.isArray(rawVectors))
      rawVectors.forEach((v, i) => {
        preCheckFinite(v, dim, `vectors[${i}]`);
      });
    const body = parseWith(batchSearchBodySchema, raw);
    checkProbe(body.probe);
    checkFilter(body.filter?.labels);
    const leave = await admit({
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
    return c.json({
      queries: results.map(present),
      timing: { totalMs: end - start, searchMs: end - searchStart },
    });
  });
  register({
    method: 'post',
    path: '/v1/search/batch',
    summary: 'Search many vectors at once (at most 1000).',
    request: { body: { required: true, content: { 'application/json': { schema: batchSearchBodySchema } } } },
    responses: {
      200: {
        description: 'one result per query',
        content: { 'application/json': { schema: batchSearchResponseSchema } },
      },
      ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
    },
  });

  // ---- items
  const toRecord = async (
    item: { id: string; vector?: number[]; image?: string; label?: number; metadata?: unknown },
    at: string,
  ): Promise<ItemRecord> => {
    if ((item.vector === undefined) === (item.image === undefined)) {
      throw new ApiError(
        422,
        'VALIDATION_FAILED',
        `${at}: give exactly one of "vector" and "image"`,
        `${at}.vector`,
      );
    }
    checkLabel(item.label, `${at}.label`);
    checkMetadata(item.metadata, `${at}.metadata`);
    const vector = item.vector
      ? toVector(item.vector, dim, `${at}.vector`)
      : (await embedImage(item.image!, `${at}.image`)).vector;
    return { id: item.id, vector, label: item.label, metadata: item.metadata };
  };

  const idParam = (c: Context) => parseWith(itemIdSchema, c.req.param('id'), 'id');

  const itemView = (r: {
    id: string;
    vector: Float32Array;
    label: number | undefined;
    bucket: number;
    metadata: unknown;
  }) => ({
    id: r.id,
    vector: Array.from(r.vector),
    label: r.label ?? null,
    bucket: r.bucket,
    metadata: r.metadata ?? null,
  });

  app.put('/v1/items/:id', guard('write'), async (c) => {
    const id = idParam(c);
    const raw = await readJson(c);
    preCheckFinite((raw as { vector?: unknown } | null)?.vector, dim, 'vector');
    const body = parseWith(putItemBodySchema, raw);
    const record = await toRecord({ ...body, id }, 'body');
    await catalog.put([record]);
    return c.json({ id, committed: true });
  });
  const idParams = z.object({ id: itemIdSchema });
  register({
    method: 'put',
    path: '/v1/items/{id}',
    summary: 'Add or replace one item (vector or image, optional label and metadata). Answers after commit.',
    request: {
      params: idParams,
      body: { required: true, content: { 'application/json': { schema: putItemBodySchema } } },
    },
    responses: {
      200: { description: 'committed' },
      ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
    },
  });

  app.post('/v1/items', guard('write'), async (c) => {
    const raw = await readJson(c);
    const rawItems = (raw as { items?: unknown } | null)?.items;
    if (Array.isArray(rawItems)) {
      for (const [i, it] of rawItems.entries()) {
        preCheckFinite((it as { vector?: unknown } | null)?.vector, dim, `items[${i}].vector`);
      }
    }
    const body = parseWith(putItemsBodySchema, raw);
    checkBatchIds(body.items);
    // vector items are checked synchronously first, so a bad vector is reported before any image
    // is decoded; the images of a batch then embed together (one micro-batch)
    const records: ItemRecord[] = await Promise.all(
      body.items.map((item, i) => toRecord(item, `items[${i}]`)),
    );
    await catalog.put(records);
    return c.json({ ids: records.map((r) => r.id), committed: true });
  });
  register({
    method: 'post',
    path: '/v1/items',
    summary: 'Add or replace a batch of items atomically (all or none). Answers after commit.',
    request: { body: { required: true, content: { 'application/json': { schema: putItemsBodySchema } } } },
    responses: {
      200: { description: 'committed' },
      ...errorResponses([400, 401, 403, 413, 415, 422, 429]),
    },
  });

  app.get('/v1/items/:id', guard('read'), async (c) => {
    const id = idParam(c);
    const item = await catalog.get(id);
    if (!item) throw new ApiError(404, 'NOT_FOUND', `no item with id ${JSON.stringify(id)}`, 'id');
    return c.json(itemView(item));
  });
  register({
    method: 'get',
    path: '/v1/items/{id}',
    summary: 'Read one item.',
    request: { params: idParams },
    responses: {
      200: { description: 'the item', content: { 'application/json': { schema: itemSchema } } },
      ...errorResponses([401, 403, 404, 422, 429]),
    },
  });

  app.delete('/v1/items/:id', guard('write'), async (c) => {
    const id = idParam(c);
    if (!(await catalog.remove(id)))
      throw new ApiError(404, 'NOT_FOUND', `no item with id ${JSON.stringify(id)}`, 'id');
    return c.json({ id, deleted: true });
  });
  register({
    method: 'delete',
    path: '/v1/items/{id}',
    summary: 'Remove one item. Answers after commit.',
    request: { params: idParams },
    responses: {
      200: { description: 'deleted' },
      ...errorResponses([401, 403, 404, 422, 429]),
    },
  });

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

function remote(c: Context): string {
  const incoming = (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming;
  return `ip:${incoming?.socket?.remoteAddress ?? 'unknown'}`;
}
