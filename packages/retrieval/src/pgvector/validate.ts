import { AnchorageError } from '@anchorage/loss-core';
import type { AddBatch, ItemId, SearchOptions } from '../types.js';

/** Checks a batch before anything is written; returns its labels as numbers (or undefined). */
export function validateBatch(
  batch: AddBatch,
  dim: number,
  classes: number,
): (readonly number[] | Int32Array) | undefined {
  const { ids, vectors, labels } = batch;
  if (!Array.isArray(ids))
    throw new AnchorageError('INVALID_ARGUMENT', 'ids must be an array', { argument: 'ids', value: ids });
  if (!(vectors instanceof Float32Array)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'vectors must be a Float32Array', {
      argument: 'vectors',
      value: vectors,
    });
  }
  if (vectors.length !== ids.length * dim) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `vectors has ${vectors.length} values; ${ids.length} ids × dim ${dim} needs ${ids.length * dim}`,
      { argument: 'vectors', value: vectors.length },
    );
  }
  const seen = new Set<ItemId>();
  for (const id of ids) {
    validateId(id);
    if (seen.has(id))
      throw new AnchorageError('INVALID_ARGUMENT', `id ${String(id)} appears twice in one batch`, {
        argument: 'ids',
        value: id,
      });
    seen.add(id);
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i]!)) {
      throw new AnchorageError('NON_FINITE', `vectors[${i}] is ${vectors[i]}`, {
        argument: 'vectors',
        value: vectors[i],
      });
    }
  }
  if (labels === undefined) return undefined;
  if (labels.length !== ids.length) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `labels has ${labels.length} entries for ${ids.length} ids`,
      {
        argument: 'labels',
        value: labels.length,
      },
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new AnchorageError(
        'LABEL_OUT_OF_RANGE',
        `labels[${i}] = ${label} is not a class in 0..${classes - 1}`,
        {
          argument: 'labels',
          value: label,
        },
      );
    }
  }
  return labels;
}

/** Ids are strings (PostgreSQL text cannot hold NUL) or safe integers. */
export function validateId(id: unknown, argument = 'ids'): asserts id is ItemId {
  if (typeof id === 'number' ? Number.isSafeInteger(id) : typeof id === 'string' && !id.includes('\u0000'))
    return;
  throw new AnchorageError(
    'INVALID_ARGUMENT',
    `an id must be a safe integer or a string without NUL; got ${String(id)}`,
    {
      argument,
      value: id,
    },
  );
}

/** Checks row-major query vectors; `argument` names them in the error. */
export function validateQueries(queries: Float32Array, dim: number, argument: 'query' | 'queries'): void {
  if (!(queries instanceof Float32Array)) {
    throw new AnchorageError('INVALID_ARGUMENT', `${argument} must be a Float32Array`, {
      argument,
      value: queries,
    });
  }
  if (argument === 'query' ? queries.length !== dim : queries.length % dim !== 0) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `${argument} has ${queries.length} values; dim is ${dim}`,
      {
        argument,
        value: queries.length,
      },
    );
  }
  for (let i = 0; i < queries.length; i++) {
    if (!Number.isFinite(queries[i]!)) {
      throw new AnchorageError('NON_FINITE', `${argument}[${i}] is ${queries[i]}`, {
        argument,
        value: queries[i],
      });
    }
  }
}

/** Resolves `k` and `probe` with their defaults (10 and 1) and checks them. */
export function validateSearchOptions(options: SearchOptions, classes: number): { k: number; probe: number } {
  const k = options.k ?? 10;
  const probe = options.probe ?? 1;
  if (!Number.isSafeInteger(k) || k < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `k must be an integer ≥ 1; got ${k}`, {
      argument: 'k',
      value: k,
    });
  }
  if (!Number.isInteger(probe) || probe < 1 || probe > classes) {
    throw new AnchorageError('INVALID_ARGUMENT', `probe must be an integer in 1..${classes}; got ${probe}`, {
      argument: 'probe',
      value: probe,
    });
  }
  return { k, probe };
}
