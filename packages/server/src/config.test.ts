import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, configFromEnv, configFromFile, resolveConfig } from './config.js';

describe('server configuration', () => {
  it('layers file < env < flags, with defaults', () => {
    const dir = mkdtempSync(join(tmpdir(), 'anchorage-config-'));
    try {
      writeFileSync(
        join(dir, 'c.json'),
        JSON.stringify({ bundle: 'from-file', port: 1000, host: '0.0.0.0' }),
      );
      writeFileSync(join(dir, 'keys'), '# operators\nk-file-1\n\n  k-file-2  \n');
      const env = configFromEnv({
        ANCHORAGE_PORT: '2000',
        ANCHORAGE_API_KEYS: 'a, b,,c',
        ANCHORAGE_READ_AUTH: 'true',
        ANCHORAGE_API_KEYS_FILE: join(dir, 'keys'),
        ANCHORAGE_COMPRESSION: 'int8',
      });
      const config = resolveConfig(configFromFile(join(dir, 'c.json')), env, { port: 3000 });
      expect(config).toMatchObject({
        bundle: 'from-file',
        port: 3000,
        host: '0.0.0.0',
        readAuth: true,
        apiKeys: ['a', 'b', 'c', 'k-file-1', 'k-file-2'],
        bodyLimitBytes: 16 * 1024 * 1024,
        logLevel: 'info',
        table: 'anchorage_items',
        compression: 'int8',
      });
      expect(resolveConfig({ bundle: 'b' })).toMatchObject({ host: '127.0.0.1', compression: 'none' });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the setting at fault', () => {
    expect(() => resolveConfig({})).toThrow(/invalid --bundle/);
    expect(() => resolveConfig({ bundle: 'b', port: 70000 })).toThrow(/invalid --port/);
    expect(() => resolveConfig({ bundle: 'b', store: 'mysql://x' })).toThrow(
      /invalid --store: must be a postgres/,
    );
    expect(() => resolveConfig({ bundle: 'b', db: 'x.db', store: 'postgres://h/d' })).toThrow(
      /cannot both be given/,
    );
    expect(() => resolveConfig({ bundle: 'b', logLevel: 'loud' as never })).toThrow(/invalid --log-level/);
    expect(() => resolveConfig({ bundle: 'b', compression: 'int4' as never })).toThrow(
      /invalid --compression/,
    );
    expect(() => resolveConfig({ bundle: 'b', apiKeysFile: '/nonexistent/keys' })).toThrow(ConfigError);
    expect(() => configFromEnv({ ANCHORAGE_READ_AUTH: 'maybe' })).toThrow(
      /ANCHORAGE_READ_AUTH must be true or false/,
    );
  });
});
