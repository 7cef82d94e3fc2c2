import { AnchorageError } from '@anchorage/loss-core';
import type { AddBatch, ItemId, SearchOptions } from './types.js';

/** Throws unless `vectors` is a Float32Array of whole rows of `dim` finite numbers; returns the row count. */
export function checkVectors(vectors: unknown, dim: number, argument: string): number {
  if (!(vectors instanceof Float32Array)) {
    throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be a Float32Array`, {
      argument,
      value: typeof vectors,
    });
  }
  if (vectors.length % dim !== 0) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `${argument} has ${vectors.length} numbers, not a multiple of dim ${dim}`,
      { argument, value: vectors.length },
    );
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i]!)) {
      throw new AnchorageError(
        'NON_FINITE',
        `${argument}[${i}] (row ${Math.floor(i / dim)}) is ${vectors[i]}; vectors must be finite`,
        { argument, value: vectors[i] },
      );
    }
  }
  return vectors.length / dim;
}

// A lone surrogate: a high one not followed by a low one, or a low one not preceded by a high one.
// (String.prototype.isWellFormed does the same on Node 20 but is not in the ES2023 lib typings.)
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * Whether `text` is well-formed UTF-16 (no lone surrogate), i.e. survives UTF-8 unchanged.
 * @example isWellFormedText('a\ud800') // false
 */
export function isWellFormedText(text: string): boolean {
  return !LONE_SURROGATE.test(text);
}

/**
 * Throws unless `id` is a safe integer or a well-formed string. A string with a lone surrogate is
 * refused: UTF-8 (index files, SQLite, PostgreSQL) cannot hold it, so two such ids would collapse
 * into one U+FFFD id on save and the next load would fail.
 */
export function checkId(id: unknown, argument = 'id'): asserts id is ItemId {
  if (typeof id === 'number' && Number.isSafeInteger(id)) return;
  if (typeof id === 'string') {
    if (isWellFormedText(id)) return;
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${argument} ${JSON.stringify(id)} is not well-formed Unicode (it holds a lone surrogate)`,
      { argument, value: id },
    );
  }
  throw new AnchorageError(
    'INVALID_ARGUMENT',
    `${argument} must be a string or a safe integer, got ${String(id)}`,
    {
      argument,
      value: id,
    },
  );
}

/**
 * Validates a whole batch before anything is stored, so a refused batch changes nothing.
 * `classes` bounds labels to 0..classes-1 when given. Returns the labels as an Int32Array or undefined.
 */
export function checkBatch(batch: AddBatch, dim: number, classes?: number): Int32Array | undefined {
  if (batch === null || typeof batch !== 'object' || !Array.isArray(batch.ids)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'add expects { ids, vectors, labels? } with ids an array', {
      argument: 'batch',
      value: batch,
    });
  }
  const n = checkVectors(batch.vectors, dim, 'vectors');
  if (batch.ids.length !== n) {
    throw new AnchorageError('DIMENSION_MISMATCH', `${batch.ids.length} ids for ${n} vectors of dim ${dim}`, {
      argument: 'ids',
      value: batch.ids.length,
    });
  }
  const seen = new Set<ItemId>();
  for (const id of batch.ids) {
    checkId(id, 'ids');
    if (seen.has(id)) {
      throw new AnchorageError('INVALID_ARGUMENT', `id ${JSON.stringify(id)} appears twice in one batch`, {
        argument: 'ids',
        value: id,
      });
    }
    seen.add(id);
  }
  if (batch.labels === undefined) return undefined;
  if (batch.labels.length !== n) {
    throw new AnchorageError('DIMENSION_MISMATCH', `${batch.labels.length} labels for ${n} vectors`, {
      argument: 'labels',
      value: batch.labels.length,
    });
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const label = batch.labels[i]!;
    const max = classes === undefined ? 0x7fffffff : classes;
    if (!Number.isInteger(label) || label < 0 || label >= max) {
      throw new AnchorageError(
        'LABEL_OUT_OF_RANGE',
        `labels[${i}] is ${label}; labels must be integers in 0..${classes === undefined ? '2^31-2' : classes - 1}`,
        { argument: 'labels', value: label },
      );
    }
    labels[i] = label;
  }
  return labels;
}

/** Resolved search options. */
export interface ResolvedSearch {
  k: number;
  probe: number;
  fullRanking: boolean;
  /** Candidates of the int8 scan re-ranked exactly (compressed indexes), when the caller says. */
  rerank: number | undefined;
  /** Scan float32 rows even in a compressed index. */
  exact: boolean;
}

/**
 * Candidates a compressed index re-ranks exactly when the caller does not say: 4·k, at least 40.
 * Chosen on the benchmark's recall@10 against exact search (bench/RESULTS.md).
 */
export function defaultRerank(k: number): number {
  return Math.max(4 * k, 40);
}

/** Checks `k` (integer ≥ 1) and, when `classes` is given, `probe` (integer in 1..classes). */
export function checkSearchOptions(options: SearchOptions | undefined, classes?: number): ResolvedSearch {
  const k = options?.k ?? 10;
  if (!Number.isInteger(k) || k < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `k must be an integer ≥ 1, got ${k}`, {
      argument: 'k',
      value: k,
    });
  }
  const probe = options?.probe ?? 1;
  if (classes !== undefined && (!Number.isInteger(probe) || probe < 1 || probe > classes)) {
    throw new AnchorageError('INVALID_ARGUMENT', `probe must be an integer in 1..${classes}, got ${probe}`, {
      argument: 'probe',
      value: probe,
    });
  }
  const rerank = options?.rerank;
  if (rerank !== undefined && (!Number.isInteger(rerank) || rerank < k)) {
    throw new AnchorageError('INVALID_ARGUMENT', `rerank must be an integer ≥ k (${k}), got ${rerank}`, {
      argument: 'rerank',
      value: rerank,
    });
  }
  const exact = options?.exact ?? false;
  if (typeof exact !== 'boolean') {
    throw new AnchorageError('INVALID_ARGUMENT', `exact must be a boolean, got ${typeof exact}`, {
      argument: 'exact',
      value: exact,
    });
  }
  return { k, probe, fullRanking: options?.fullRanking === true, rerank, exact };
}

/** A compressed store's settings: the candidates a search re-ranks when it does not say. */
export interface CompressionSettings {
  rerank: number | undefined;
}

/**
 * Candidates to re-rank for a search (0: scan the float32 rows, exact): the search's `rerank`,
 * else the index's, else {@link defaultRerank}; never fewer than k.
 */
export function candidatesFor(compression: CompressionSettings | undefined, search: ResolvedSearch): number {
  if (compression === undefined || search.exact || search.fullRanking) return 0;
  return search.rerank ?? Math.max(search.k, compression.rerank ?? defaultRerank(search.k));
}

/** Runs `decode`, prefixing the message of an `AnchorageError` it throws with the file's path. */
export function decodingFile<T>(path: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof AnchorageError) {
      throw new AnchorageError(error.code, `${path}: ${error.message}`, {
        argument: 'path',
        value: path,
        cause: error,
      });
    }
    throw error;
  }
}

/** Throws unless `query` is one finite vector of `dim` numbers. */
export function checkQuery(query: unknown, dim: number): asserts query is Float32Array {
  if (checkVectors(query, dim, 'query') !== 1) {
    const length = (query as Float32Array).length;
    throw new AnchorageError('DIMENSION_MISMATCH', `query has ${length} numbers, expected dim ${dim}`, {
      argument: 'query',
      value: length,
    });
  }
}

/**
 * The settings of a `compression` option (undefined: none); throws on anything but undefined,
 * 'none' or 'int8', or a `rerank` that is not an integer ≥ 1.
 */
export function checkCompression(compression: unknown, rerank: unknown): CompressionSettings | undefined {
  if (rerank !== undefined && (!Number.isInteger(rerank) || (rerank as number) < 1)) {
    throw new AnchorageError('INVALID_ARGUMENT', `rerank must be an integer ≥ 1, got ${String(rerank)}`, {
      argument: 'rerank',
      value: rerank,
    });
  }
  if (compression === undefined || compression === 'none') return undefined;
  if (compression === 'int8') return { rerank: rerank as number | undefined };
  throw new AnchorageError(
    'INVALID_ARGUMENT',
    `compression must be 'none' or 'int8', got ${String(compression)}`,
    {
      argument: 'compression',
      value: compression,
    },
  );
}
