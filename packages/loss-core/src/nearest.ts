import { AnchorageError } from './errors';
import { checkDim, checkMatrix, type FloatArray } from './validate';

/** The k nearest anchors of each of n vectors, nearest first. */
export interface NearestAnchors {
  /** n×k anchor indices */
  indices: Int32Array;
  /** n×k squared Euclidean distances */
  distances: Float32Array;
}

/** Squared Euclidean distance between row `a` of `x` and row `b` of `y`. */
export function squaredDistance(x: FloatArray, a: number, y: FloatArray, b: number, dim: number): number {
  const ox = a * dim;
  const oy = b * dim;
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  let k = 0;
  const dim4 = dim - (dim % 4);
  for (; k < dim4; k += 4) {
    const d0 = x[ox + k]! - y[oy + k]!;
    const d1 = x[ox + k + 1]! - y[oy + k + 1]!;
    const d2 = x[ox + k + 2]! - y[oy + k + 2]!;
    const d3 = x[ox + k + 3]! - y[oy + k + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; k < dim; k++) {
    const d0 = x[ox + k]! - y[oy + k]!;
    s0 += d0 * d0;
  }
  return s0 + s1 + s2 + s3;
}

/**
 * Allocation-free core of `nearestAnchors`: writes the k nearest anchors of every vector into
 * `indices` and `distances` (each n×k). `scratch` must hold at least C numbers. Ties go to the
 * lower anchor index. Inputs are trusted.
 */
export function nearestAnchorsInto(
  vectors: FloatArray,
  anchors: FloatArray,
  dim: number,
  k: number,
  indices: Int32Array,
  distances: Float32Array,
  scratch: Float64Array,
): void {
  const n = vectors.length / dim;
  const classes = anchors.length / dim;
  for (let q = 0; q < n; q++) {
    const base = q * k;
    let filled = 0;
    for (let c = 0; c < classes; c++) scratch[c] = squaredDistance(vectors, q, anchors, c, dim);
    // insertion into a sorted list of length ≤ k: C·k in the worst case, fine for k ≪ C; strict
    // comparison keeps the lower index first among equal distances.
    for (let c = 0; c < classes; c++) {
      const d = Math.fround(scratch[c]!);
      if (filled === k && d >= distances[base + k - 1]!) continue;
      let pos = filled < k ? filled++ : k - 1;
      while (pos > 0 && distances[base + pos - 1]! > d) {
        distances[base + pos] = distances[base + pos - 1]!;
        indices[base + pos] = indices[base + pos - 1]!;
        pos--;
      }
      distances[base + pos] = d;
      indices[base + pos] = c;
    }
  }
}

/**
 * The `k` nearest anchors (squared Euclidean distance) of each row of `vectors` (n×dim), nearest
 * first; ties go to the lower anchor index. Used for class prediction and as stage 1 of the
 * two-stage search.
 * @example
 * const { indices, distances } = nearestAnchors(queries, anchors, 128, 3); // n×3 each
 */
export function nearestAnchors(
  vectors: FloatArray,
  anchors: FloatArray,
  dim: number,
  k: number,
): NearestAnchors {
  checkDim(dim);
  const n = checkMatrix('vectors', vectors, dim, 0);
  const classes = checkMatrix('anchors', anchors, dim, 1);
  if (!Number.isInteger(k) || k < 1 || k > classes) {
    throw new AnchorageError('INVALID_ARGUMENT', `k must be an integer in 1..${classes}, got ${String(k)}`, {
      argument: 'k',
      value: k,
    });
  }
  const indices = new Int32Array(n * k);
  const distances = new Float32Array(n * k);
  nearestAnchorsInto(vectors, anchors, dim, k, indices, distances, new Float64Array(classes));
  return { indices, distances };
}
