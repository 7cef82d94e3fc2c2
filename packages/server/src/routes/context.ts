import { anchorStats } from '@anchorage/loss-core';
import type { MiddlewareHandler } from 'hono';
import pino from 'pino';
import type { AppDeps, AppOptions } from '../app.js';
import { ApiKeys } from '../auth.js';
import type { ModelBundle } from '../bundle.js';
import type { Catalog, CatalogResult } from '../catalog.js';
import type { OnnxEmbedder } from '../embedder.js';
import { ApiError } from '../errors.js';
import { decodeImage } from '../image.js';
import { Metrics } from '../metrics.js';
import { RateLimiter } from '../rate-limit.js';
import {
  checkSearchCost,
  DEFAULT_SEARCH_LIMITS,
  SearchAdmission,
  type SearchLimits,
  type SearchShape,
  searchCost,
} from '../search-cost.js';
import { decodeBase64, type Env, remote } from './http.js';

/** What the route modules share: the served objects, the limits, and the checks every route applies. */
export interface RouteContext {
  bundle: ModelBundle;
  catalog: Catalog;
  embedder: OnnxEmbedder | undefined;
  options: AppOptions;
  log: pino.Logger;
  metrics: Metrics;
  ready: () => boolean;
  dim: number;
  classes: number;
  maxResponseBytes: number;
  /** Anchor norms and distances (for `/v1/stats`). */
  geometry: ReturnType<typeof anchorStats>;
  /** Authenticates (writes always, reads with `--read-auth` or a key given) and rate-limits. */
  guard(kind: 'read' | 'write'): MiddlewareHandler<Env>;
  /**
   * Refuses a search whose worst case passes the limits, before any of it runs, or that would pass
   * the work already admitted (the same cost bounds both); returns the function that releases it.
   */
  admit(shape: SearchShape): Promise<() => void>;
  embedImage(text: string | Uint8Array, argument: string): Promise<{ vector: Float32Array; ms: number }>;
  checkProbe(probe: number): void;
  /** Filter labels past the classes can match nothing: refuse them rather than scan for nothing. */
  checkFilter(labels: readonly number[] | undefined): void;
  checkLabel(label: number | undefined, argument: string): void;
  checkMetadata(metadata: unknown, argument: string): void;
  /** One query's answer as the API writes it (and counted in the metrics). */
  present(result: CatalogResult): {
    results: { id: string; distance: number; label: number | null; bucket: number; metadata: unknown }[];
    anchors: { class: number; name: string; distance: number }[];
    scanned: number;
  };
}

/** Builds the shared context of the routes from the app's dependencies. */
export function createRouteContext(deps: AppDeps): RouteContext {
  const { bundle, catalog, embedder } = deps;
  const options = deps.options ?? {};
  const log = deps.logger ?? pino({ level: 'silent' });
  const metrics = deps.metrics ?? new Metrics();
  const keys = new ApiKeys(options.apiKeys ?? []);
  const metadataLimit = options.metadataLimitBytes ?? 16 * 1024;
  const limiter = options.rateLimit
    ? new RateLimiter(options.rateLimit.perSecond, options.rateLimit.burst)
    : undefined;
  const failureLimit = options.authFailureLimit ?? { perSecond: 0.5, burst: 10 };
  const failures = failureLimit ? new RateLimiter(failureLimit.perSecond, failureLimit.burst) : undefined;
  const searchLimits: SearchLimits = { ...DEFAULT_SEARCH_LIMITS, ...options.searchLimits };
  const admission = new SearchAdmission(searchLimits.maxQueuedWork);
  const dim = bundle.dim;
  const classes = bundle.classes.length;

  // Guesses at a key are counted per address, and an address over its allowance is turned away
  // before its key is checked, so a wrong key costs the guesser time, not only a 403.
  const authenticate = (c: Parameters<MiddlewareHandler<Env>>[0], header: string | undefined): string => {
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

  return {
    bundle,
    catalog,
    embedder,
    options,
    log,
    metrics,
    ready: deps.ready ?? (() => true),
    dim,
    classes,
    maxResponseBytes: options.maxResponseBytes ?? 64 * 1024 * 1024,
    geometry: anchorStats(bundle.anchors, dim),

    guard: (kind) => async (c, next) => {
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
    },

    admit: async (shape) => {
      const bucketSizes = await catalog.bucketSizes();
      const cost = searchCost(shape, { dim, bucketSizes });
      checkSearchCost(cost, searchLimits);
      return admission.enter(cost.work);
    },

    embedImage: async (text, argument) => {
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
    },

    checkProbe: (probe) => {
      if (probe > classes) {
        throw new ApiError(
          422,
          'OUT_OF_RANGE',
          `probe is ${probe}, must be between 1 and ${classes}`,
          'probe',
        );
      }
    },

    checkFilter: (labels) => {
      labels?.forEach((label, i) => {
        checkLabel(label, `filter.labels[${i}]`);
      });
    },

    checkLabel,

    checkMetadata: (metadata, argument) => {
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
    },

    present: (r) => {
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
    },
  };
}
