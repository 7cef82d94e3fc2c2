import { createHash, timingSafeEqual } from 'node:crypto';
import { ApiError } from './errors.js';

/**
 * Bearer API keys. Keys are compared as SHA-256 digests with `timingSafeEqual`, so neither the
 * comparison time nor an early length check reveals how much of a guess was right.
 */
export class ApiKeys {
  private readonly digests: Buffer[];

  constructor(keys: readonly string[]) {
    this.digests = keys.map((k) => createHash('sha256').update(k).digest());
  }

  /** Whether any key is configured. */
  get enabled(): boolean {
    return this.digests.length > 0;
  }

  /** Whether `key` is one of the configured keys (every key is compared, match or not). */
  matches(key: string): boolean {
    const digest = createHash('sha256').update(key).digest();
    let found = false;
    for (const d of this.digests) found = timingSafeEqual(d, digest) || found;
    return found;
  }

  /**
   * The key of an `Authorization: Bearer …` header, checked. Throws 401 when the header is
   * missing or malformed and 403 when the key is wrong.
   */
  authenticate(header: string | undefined): string {
    if (!header) throw new ApiError(401, 'UNAUTHENTICATED', 'missing Authorization: Bearer <key> header');
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!match) throw new ApiError(401, 'UNAUTHENTICATED', 'the Authorization header must be "Bearer <key>"');
    const key = match[1]!;
    if (!this.matches(key)) throw new ApiError(403, 'FORBIDDEN', 'the API key is not valid');
    return key;
  }
}

/** Parses keys from `ANCHORAGE_API_KEYS` (comma-separated) or a key file (one per line, `#` comments). */
export function parseKeys(text: string, separator: 'comma' | 'line'): string[] {
  const parts =
    separator === 'comma' ? text.split(',') : text.split(/\r?\n/).filter((l) => !l.trim().startsWith('#'));
  return parts.map((k) => k.trim()).filter((k) => k.length > 0);
}
