import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { parseKeys } from './auth.js';

const positiveInt = z.coerce.number().int().positive();

/** Everything `startServer` needs, validated. Flags override env, env overrides the config file. */
export const serverConfigSchema = z
  .strictObject({
    bundle: z.string().min(1, 'is required'),
    index: z.string().min(1).optional(),
    db: z.string().min(1).optional(),
    store: z
      .string()
      .regex(/^postgres(?:ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
      .optional(),
    table: z
      .string()
      .regex(/^[a-z_][a-z0-9_]{0,40}$/, 'must be a lower-case SQL identifier of at most 41 characters')
      .default('anchorage_items'),
    port: z.coerce.number().int().min(0).max(65535).default(8080),
    host: z.string().min(1).default('127.0.0.1'),
    apiKeys: z.array(z.string().min(1)).default([]),
    apiKeysFile: z.string().min(1).optional(),
    readAuth: z.boolean().default(false),
    corsOrigins: z.array(z.string().min(1)).default([]),
    bodyLimitBytes: positiveInt.default(16 * 1024 * 1024),
    metadataLimitBytes: positiveInt.default(16 * 1024),
    rateLimit: z
      .strictObject({ perSecond: z.number().positive(), burst: z.number().int().positive() })
      .optional(),
    authFailureLimit: z
      .strictObject({ perSecond: z.number().positive(), burst: z.number().int().positive() })
      .default({ perSecond: 0.5, burst: 10 }),
    maxSearchResults: positiveInt.default(100_000),
    maxSearchWork: positiveInt.default(2 ** 30),
    maxQueuedSearchWork: positiveInt.default(2 ** 33),
    /** Search worker threads; 0 searches on the HTTP thread; absent: one per core (at most 15). */
    searchThreads: z.coerce.number().int().min(0).max(15).optional(),
    /**
     * Stage 2 of the in-process index: float32 rows (`none`), or int8 codes scanned first and the
     * best candidates re-ranked exactly (`int8`: about a quarter of the memory read per search;
     * faster once the index is much larger than the CPU's cache, e.g. 1M × 128).
     */
    compression: z.enum(['none', 'int8']).default('none'),
    maxResponseBytes: positiveInt.default(64 * 1024 * 1024),
    batchWindowMs: z.coerce.number().min(0).max(1000).default(2),
    maxEmbedBatch: positiveInt.default(64),
    shutdownTimeoutMs: positiveInt.default(10_000),
    demoSamples: z.string().min(1).optional(),
    logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .refine((c) => !(c.db && c.store), { message: '--db and --store cannot both be given', path: ['store'] });

/** The validated server configuration. */
export type ServerConfig = z.infer<typeof serverConfigSchema>;
/** Configuration as given, before defaults and validation. */
export type ServerConfigInput = z.input<typeof serverConfigSchema>;

/** A configuration problem, with a message meant for the operator. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function boolEnv(name: string, value: string | undefined): boolean | undefined {
  if (value === undefined || value === '') return undefined;
  if (/^(1|true|yes|on)$/i.test(value)) return true;
  if (/^(0|false|no|off)$/i.test(value)) return false;
  throw new ConfigError(`${name} must be true or false, got ${JSON.stringify(value)}`);
}

function listEnv(value: string | undefined): string[] | undefined {
  return value === undefined || value === '' ? undefined : parseKeys(value, 'comma');
}

/** Reads the `ANCHORAGE_*` environment variables that configure the server. */
export function configFromEnv(env: NodeJS.ProcessEnv): Partial<ServerConfigInput> {
  const out: Record<string, unknown> = {
    bundle: env.ANCHORAGE_BUNDLE,
    index: env.ANCHORAGE_INDEX,
    db: env.ANCHORAGE_DB,
    store: env.ANCHORAGE_STORE,
    port: env.ANCHORAGE_PORT,
    host: env.ANCHORAGE_HOST,
    apiKeys: listEnv(env.ANCHORAGE_API_KEYS),
    apiKeysFile: env.ANCHORAGE_API_KEYS_FILE,
    readAuth: boolEnv('ANCHORAGE_READ_AUTH', env.ANCHORAGE_READ_AUTH),
    corsOrigins: listEnv(env.ANCHORAGE_CORS_ORIGINS),
    bodyLimitBytes: env.ANCHORAGE_BODY_LIMIT_BYTES,
    demoSamples: env.ANCHORAGE_DEMO_SAMPLES,
    compression: env.ANCHORAGE_COMPRESSION as ServerConfigInput['compression'],
    logLevel: env.ANCHORAGE_LOG_LEVEL,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v !== undefined && v !== '')) as never;
}

/** Reads a JSON config file whose keys are `ServerConfig`'s. */
export function configFromFile(path: string): Partial<ServerConfigInput> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`cannot read config file ${path}`);
  }
  try {
    const value = JSON.parse(text);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error('not an object');
    return value;
  } catch {
    throw new ConfigError(`config file ${path} is not a JSON object`);
  }
}

/**
 * Merges the layers (later wins: file, env, flags), reads the key file, and validates. Throws
 * `ConfigError` whose message names the setting at fault.
 */
export function resolveConfig(...layers: Partial<ServerConfigInput>[]): ServerConfig {
  const merged: Record<string, unknown> = {};
  for (const layer of layers) {
    for (const [k, v] of Object.entries(layer)) if (v !== undefined) merged[k] = v;
  }
  const parsed = serverConfigSchema.safeParse(merged);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.join('.') || 'config';
    const flag = where.replace(/[A-Z]/g, (m) => `-${m.toLowerCase()}`);
    throw new ConfigError(`invalid --${flag}: ${issue.message}`);
  }
  const config = parsed.data;
  if (config.apiKeysFile) {
    let text: string;
    try {
      text = readFileSync(config.apiKeysFile, 'utf8');
    } catch {
      throw new ConfigError(`cannot read the API key file ${config.apiKeysFile}`);
    }
    config.apiKeys = [...config.apiKeys, ...parseKeys(text, 'line')];
  }
  return config;
}
