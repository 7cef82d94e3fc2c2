import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import net, { type AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';
import { AnchorIndex, loadIndex, SearchPool } from '@anchorage/retrieval';
import { serve } from '@hono/node-server';
import pino from 'pino';
import { createApp } from './app.js';
import { loadBundle, type ModelBundle } from './bundle.js';
import { type Catalog, LoadingCatalog } from './catalog.js';
import type { ServerConfig } from './config.js';
import { loadDemoSamples } from './demo-samples.js';
import { OnnxEmbedder } from './embedder.js';
import { Metrics } from './metrics.js';
import { SqliteCatalog } from './sqlite-catalog.js';

/**
 * How long a draining server keeps idle keep-alive sockets open for a request already on its way;
 * such a request is served with `Connection: close`.
 */
const IDLE_GRACE_MS = 1000;

/** A running server. */
export interface RunningServer {
  /** The bound port (useful with `port: 0`). */
  port: number;
  host: string;
  bundle: ModelBundle;
  catalog: Catalog;
  /**
   * Stops accepting connections, answers in-flight requests with `Connection: close`, waits for
   * them (up to `shutdownTimeoutMs`), closes idle sockets after a short grace, closes storage.
   */
  close(): Promise<void>;
}

async function openCatalog(
  config: ServerConfig,
  bundle: ModelBundle,
  log: pino.Logger,
  searchPool: SearchPool | undefined,
): Promise<Catalog> {
  if (config.store) {
    const { openPgCatalog } = await import('./pg-catalog.js');
    return openPgCatalog({ url: config.store, table: config.table, bundle, indexPath: config.index, log });
  }
  if (!config.db) log.warn('no --db given: items live in memory and are lost when the server stops');
  return SqliteCatalog.open({
    path: config.db ?? ':memory:',
    dim: bundle.dim,
    anchors: bundle.anchors,
    createIndex: (options) => new AnchorIndex({ ...options, compression: config.compression }),
    loadIndex: (path) => loadIndex(path, { compression: config.compression }),
    indexPath: config.index,
    snapshotPath: config.db ? `${config.db}.snapshot` : undefined,
    onNotice: (message) => log.info(message),
    searchPool,
  });
}

/**
 * Loads the bundle, opens the store, builds the index and serves the API. Resolves once listening.
 * @example const server = await startServer(resolveConfig({ bundle: 'model/', port: 0 }));
 */
export async function startServer(config: ServerConfig, logger?: pino.Logger): Promise<RunningServer> {
  const log = logger ?? pino({ level: config.logLevel, base: { service: 'anchorage' } });
  const bundle = loadBundle(config.bundle);
  const embedder =
    bundle.modelPath && bundle.manifest.input
      ? await OnnxEmbedder.create({
          modelPath: bundle.modelPath,
          input: bundle.manifest.input,
          dim: bundle.dim,
          batchWindowMs: config.batchWindowMs,
          maxBatch: config.maxEmbedBatch,
        })
      : undefined;
  if (!embedder) log.info('the bundle has no model.onnx: serving vector queries only');
  const catalog = new LoadingCatalog(bundle.dim, bundle.classes.length);
  const app = createApp({
    bundle,
    catalog,
    embedder,
    logger: log,
    metrics: new Metrics(),
    ready: () => catalog.loaded,
    options: {
      apiKeys: config.apiKeys,
      readAuth: config.readAuth,
      corsOrigins: config.corsOrigins,
      bodyLimitBytes: config.bodyLimitBytes,
      metadataLimitBytes: config.metadataLimitBytes,
      rateLimit: config.rateLimit,
      authFailureLimit: config.authFailureLimit,
      searchLimits: {
        maxResults: config.maxSearchResults,
        maxWork: config.maxSearchWork,
        maxQueuedWork: config.maxQueuedSearchWork,
      },
      maxResponseBytes: config.maxResponseBytes,
      demoSamples: config.demoSamples ? loadDemoSamples(config.demoSamples) : undefined,
    },
  });
  // listen first: /healthz answers and /readyz says 503 while a large index loads
  const server = await new Promise<Server>((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: config.port, hostname: config.host }, () =>
      resolve(s as Server),
    );
    (s as Server).once('error', reject);
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ host: config.host, port }, 'accepting connections; loading the index');
  const started = performance.now();
  // Searches run on worker threads that read the index's shared memory, so the HTTP thread only
  // parses, admits and answers (SQLite storage; PostgreSQL runs stage 2 itself).
  const threads = config.store ? 0 : (config.searchThreads ?? Math.min(15, availableParallelism()));
  const searchPool = threads > 0 ? new SearchPool({ workers: threads }) : undefined;
  try {
    catalog.resolve(await openCatalog(config, bundle, log, searchPool));
  } catch (error) {
    server.close();
    await searchPool?.close();
    await embedder?.close();
    throw error;
  }
  log.info(
    {
      items: await catalog.size(),
      ms: performance.now() - started,
      storage: catalog.kind,
      searchThreads: threads,
    },
    'index ready',
  );
  log.info({ host: config.host, port }, 'listening');
  // Draining: a request that arrives, or is already being handled, is answered with
  // `Connection: close`, so its client learns not to reuse the socket; only sockets that stay idle
  // through a grace period are closed. Closing an idle keep-alive socket at once races with a
  // request the client is already sending on it, which it then sees as ECONNRESET.
  let draining = false;
  const inFlight = new Set<ServerResponse>();
  server.prependListener('request', (_req: IncomingMessage, res: ServerResponse) => {
    if (draining) res.shouldKeepAlive = false;
    inFlight.add(res);
    res.once('close', () => inFlight.delete(res));
  });
  let closing: Promise<void> | undefined;
  const close = () => {
    closing ??= (async () => {
      log.info('shutting down: draining in-flight requests');
      draining = true;
      for (const res of inFlight) if (!res.headersSent) res.shouldKeepAlive = false;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          log.warn('drain timed out: closing remaining connections');
          server.closeAllConnections();
        }, config.shutdownTimeoutMs);
        timer.unref();
        let sweep: NodeJS.Timeout | undefined;
        const grace = setTimeout(
          () => {
            server.closeIdleConnections();
            sweep = setInterval(() => server.closeIdleConnections(), 50);
          },
          Math.min(IDLE_GRACE_MS, config.shutdownTimeoutMs / 2),
        );
        // net.Server's close stops accepting without http.Server's immediate closing of idle sockets
        net.Server.prototype.close.call(server, () => {
          clearTimeout(timer);
          clearTimeout(grace);
          clearInterval(sweep);
          resolve();
        });
      });
      await catalog.close();
      await searchPool?.close();
      await embedder?.close();
      log.info('stopped');
    })();
    return closing;
  };
  return { port, host: config.host, bundle, catalog, close };
}
