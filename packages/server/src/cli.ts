#!/usr/bin/env node
import { AnchorageError } from '@anchorage/loss-core';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  ConfigError,
  configFromEnv,
  configFromFile,
  resolveConfig,
  type ServerConfigInput,
} from './config.js';
import { startServer } from './server.js';

function integer(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('must be a non-negative integer');
  return Number(value);
}

function list(value: string, previous: string[] = []): string[] {
  return [
    ...previous,
    ...value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  ];
}

const program = new Command('anchorage-serve')
  .description('Serve the anchorage retrieval API (vector and image search) over a model bundle.')
  .option('--bundle <dir>', 'model bundle folder: manifest.json, anchors.json, optional model.onnx')
  .option('--index <file>', 'index file: imported into an empty database, then kept as its snapshot')
  .option('--db <file>', 'SQLite database holding the items (default: in memory, not durable)')
  .option('--store <url>', 'postgres://… URL: keep items in PostgreSQL + pgvector instead of SQLite')
  .option('--table <name>', 'PostgreSQL base table name (with --store)')
  .option('--port <n>', 'TCP port (0 picks a free one)', integer)
  .option('--host <address>', 'address to bind (default 127.0.0.1)')
  .option('--config <file>', 'JSON config file (flags override env, env overrides the file)')
  .option(
    '--api-keys-file <file>',
    'file of API keys, one per line (also ANCHORAGE_API_KEYS, comma-separated)',
  )
  .option('--read-auth', 'require an API key for reads too')
  .option('--cors-origin <origins>', 'allow CORS from these origins (comma-separated; "*" for any)', list)
  .option('--body-limit <bytes>', 'largest request body in bytes', integer)
  .option('--rate-limit <perSecond:burst>', 'per-client rate limit, e.g. 100:200')
  .option(
    '--max-search-results <n>',
    'most hits one search request may ask for, queries × k (default 100000)',
    integer,
  )
  .option(
    '--max-search-work <n>',
    'most float32 multiply-adds one search request may cost, worst case (default 2^30)',
    integer,
  )
  .option(
    '--max-queued-search-work <n>',
    'most multiply-adds of all searches admitted at once; past it a search gets 503 OVERLOADED (default 2^33)',
    integer,
  )
  .option(
    '--search-threads <n>',
    'worker threads that run searches (0: on the HTTP thread; default: one per core, at most 15)',
    integer,
  )
  .addOption(
    new Option(
      '--compression <kind>',
      'stage 2 of the in-process index: none (float32) or int8 (codes scanned first, best candidates re-ranked exactly)',
    ).choices(['none', 'int8']),
  )
  .option('--max-response-bytes <n>', 'largest search answer, metadata included (default 64 MiB)', integer)
  .option('--demo-samples <dir>', 'folder of JPEG/PNG/WebP images the demo page offers as sample queries')
  .option('--log-level <level>', 'fatal, error, warn, info, debug, trace or silent')
  .showHelpAfterError();

async function main(): Promise<void> {
  program.parse();
  const o = program.opts();
  let rateLimit: ServerConfigInput['rateLimit'];
  if (o.rateLimit !== undefined) {
    const m = /^(\d+(?:\.\d+)?):(\d+)$/.exec(o.rateLimit);
    if (!m) throw new ConfigError('invalid --rate-limit: expected <perSecond>:<burst>, e.g. 100:200');
    rateLimit = { perSecond: Number(m[1]), burst: Number(m[2]) };
  }
  const flags: Partial<ServerConfigInput> = {
    bundle: o.bundle,
    index: o.index,
    db: o.db,
    store: o.store,
    table: o.table,
    port: o.port,
    host: o.host,
    apiKeysFile: o.apiKeysFile,
    readAuth: o.readAuth,
    corsOrigins: o.corsOrigin,
    bodyLimitBytes: o.bodyLimit,
    rateLimit,
    maxSearchResults: o.maxSearchResults,
    maxSearchWork: o.maxSearchWork,
    maxQueuedSearchWork: o.maxQueuedSearchWork,
    searchThreads: o.searchThreads,
    compression: o.compression,
    maxResponseBytes: o.maxResponseBytes,
    demoSamples: o.demoSamples,
    logLevel: o.logLevel,
  };
  const file = o.config ? configFromFile(o.config) : {};
  const config = resolveConfig(file, configFromEnv(process.env), flags);
  const server = await startServer(config);
  // one human line beside the JSON log: where to point a browser or a client
  process.stderr.write(
    `anchorage-serve: listening on http://${server.host.includes(':') ? `[${server.host}]` : server.host}:${server.port}/ ` +
      `(demo page; API reference at /docs)\n`,
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stderr.write(`anchorage-serve: ${signal}, draining\n`);
    server.close().then(
      () => process.exit(0),
      (error) => {
        process.stderr.write(
          `anchorage-serve: shutdown failed: ${error instanceof Error ? error.message : error}\n`,
        );
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

// Every start-up failure is one line (naming the file at fault when there is one) and status 1;
// ANCHORAGE_DEBUG=1 adds the stack of an unexpected error for a bug report.
main().catch((error: unknown) => {
  const known = error instanceof ConfigError || error instanceof AnchorageError;
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`anchorage-serve: ${known ? message : `failed to start: ${message}`}\n`);
  if (!known && process.env.ANCHORAGE_DEBUG && error instanceof Error)
    process.stderr.write(`${error.stack}\n`);
  process.exit(1);
});
