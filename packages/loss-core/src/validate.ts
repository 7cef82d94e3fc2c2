import { AnchorageError } from './errors';

/** A row-major matrix of floats. Float64Array is accepted everywhere a Float32Array is. */
export type FloatArray = Float32Array | Float64Array;

/** Throws unless `dim` is a positive integer. */
export function checkDim(dim: unknown): number {
  if (typeof dim !== 'number' || !Number.isInteger(dim) || dim <= 0) {
    throw new AnchorageError('INVALID_ARGUMENT', `dim must be a positive integer, got ${String(dim)}`, {
      argument: 'dim',
      value: dim,
    });
  }
  return dim;
}

/**
 * Checks that `array` is a float typed array holding whole rows of `dim` values and no NaN/Inf.
 * Returns the number of rows.
 */
export function checkMatrix(name: string, array: unknown, dim: number, minRows = 1): number {
  if (!(array instanceof Float32Array || array instanceof Float64Array)) {
    throw new AnchorageError('INVALID_ARGUMENT', `${name} must be a Float32Array or Float64Array`, {
      argument: name,
      value: array === null ? null : typeof array,
    });
  }
  if (array.length % dim !== 0) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `${name} has length ${array.length}, which is not a multiple of dim ${dim}`,
      { argument: name, value: array.length },
    );
  }
  const rows = array.length / dim;
  if (rows < minRows) {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `${name} must hold at least ${minRows} row(s) of dim ${dim}`,
      {
        argument: name,
        value: rows,
      },
    );
  }
  for (let i = 0; i < array.length; i++) {
    const v = array[i]!;
    // v - v is NaN exactly when v is NaN or ±Infinity; cheaper than Number.isFinite per element.
    if (v - v !== 0) {
      throw new AnchorageError(
        'NON_FINITE',
        `${name} holds a non-finite value ${v} at row ${Math.floor(i / dim)}, column ${i % dim}`,
        { argument: name, value: v },
      );
    }
  }
  return rows;
}

/** Checks that `labels` is an Int32Array of `count` class indices in 0..classes-1. */
export function checkLabels(labels: unknown, count: number, classes: number): Int32Array {
  if (!(labels instanceof Int32Array)) {
    throw new AnchorageError('INVALID_ARGUMENT', 'labels must be an Int32Array', {
      argument: 'labels',
      value: labels === null ? null : typeof labels,
    });
  }
  if (labels.length !== count) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `labels has ${labels.length} entries but embeddings hold ${count} rows`,
      { argument: 'labels', value: labels.length },
    );
  }
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (y < 0 || y >= classes) {
      throw new AnchorageError(
        'LABEL_OUT_OF_RANGE',
        `labels[${i}] = ${y} is outside 0..${classes - 1} (there are ${classes} anchors)`,
        { argument: 'labels', value: y },
      );
    }
  }
  return labels;
}
