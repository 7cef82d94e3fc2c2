import { AnchorageError } from '@anchorage/loss-core';
import type { AddBatch, ItemId } from '../types.js';
import { checkBatch, checkId, checkVectors } from '../validate.js';

/**
 * The in-memory indexes' batch checks, plus one PostgreSQL limit: `text` cannot hold NUL, so a
 * string id containing U+0000 is refused up front instead of failing inside the transaction.
 */
export function checkPgBatch(batch: AddBatch, dim: number, classes: number): Int32Array | undefined {
  const labels = checkBatch(batch, dim, classes);
  for (const id of batch.ids) checkPgId(id, 'ids');
  return labels;
}

/** `checkId` plus the NUL rule of `checkPgBatch`. */
export function checkPgId(id: unknown, argument = 'id'): asserts id is ItemId {
  checkId(id, argument);
  if (typeof id === 'string' && id.includes('\u0000')) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${argument} must not contain NUL (PostgreSQL text cannot hold it)`,
      {
        argument,
        value: id,
      },
    );
  }
}

/** Checks one query vector of length `dim`. */
export function checkQuery(query: unknown, dim: number): asserts query is Float32Array {
  if (checkVectors(query, dim, 'query') !== 1) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `query has ${(query as Float32Array).length} numbers, expected dim ${dim}`,
      {
        argument: 'query',
        value: (query as Float32Array).length,
      },
    );
  }
}
