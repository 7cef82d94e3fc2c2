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
 * Squared distances of vector rows q0..q0+3 to every anchor, into scratch[r·C + c]. A 4×4 tile
 * (four vectors by four anchors) turns 8 loads into 16 differences and multiply-adds.
 */
function distances4(
  v: FloatArray,
  q0: number,
  anchors: FloatArray,
  classes: number,
  dim: number,
  out: Float64Array,
): void {
  const v0 = q0 * dim;
  const v1 = v0 + dim;
  const v2 = v1 + dim;
  const v3 = v2 + dim;
  let c = 0;
  for (; c + 3 < classes; c += 4) {
    const a0 = c * dim;
    const a1 = a0 + dim;
    const a2 = a1 + dim;
    const a3 = a2 + dim;
    let s00 = 0,
      s01 = 0,
      s02 = 0,
      s03 = 0;
    let s10 = 0,
      s11 = 0,
      s12 = 0,
      s13 = 0;
    let s20 = 0,
      s21 = 0,
      s22 = 0,
      s23 = 0;
    let s30 = 0,
      s31 = 0,
      s32 = 0,
      s33 = 0;
    for (let t = 0; t < dim; t++) {
      const x0 = v[v0 + t]!;
      const x1 = v[v1 + t]!;
      const x2 = v[v2 + t]!;
      const x3 = v[v3 + t]!;
      const y0 = anchors[a0 + t]!;
      const y1 = anchors[a1 + t]!;
      const y2 = anchors[a2 + t]!;
      const y3 = anchors[a3 + t]!;
      let d = x0 - y0;
      s00 += d * d;
      d = x0 - y1;
      s01 += d * d;
      d = x0 - y2;
      s02 += d * d;
      d = x0 - y3;
      s03 += d * d;
      d = x1 - y0;
      s10 += d * d;
      d = x1 - y1;
      s11 += d * d;
      d = x1 - y2;
      s12 += d * d;
      d = x1 - y3;
      s13 += d * d;
      d = x2 - y0;
      s20 += d * d;
      d = x2 - y1;
      s21 += d * d;
      d = x2 - y2;
      s22 += d * d;
      d = x2 - y3;
      s23 += d * d;
      d = x3 - y0;
      s30 += d * d;
      d = x3 - y1;
      s31 += d * d;
      d = x3 - y2;
      s32 += d * d;
      d = x3 - y3;
      s33 += d * d;
    }
    const r1 = classes;
    const r2 = 2 * classes;
    const r3 = 3 * classes;
    out[c] = s00;
    out[c + 1] = s01;
    out[c + 2] = s02;
    out[c + 3] = s03;
    out[r1 + c] = s10;
    out[r1 + c + 1] = s11;
    out[r1 + c + 2] = s12;
    out[r1 + c + 3] = s13;
    out[r2 + c] = s20;
    out[r2 + c + 1] = s21;
    out[r2 + c + 2] = s22;
    out[r2 + c + 3] = s23;
    out[r3 + c] = s30;
    out[r3 + c + 1] = s31;
    out[r3 + c + 2] = s32;
    out[r3 + c + 3] = s33;
  }
  for (; c < classes; c++)
    for (let r = 0; r < 4; r++) out[r * classes + c] = squaredDistance(v, q0 + r, anchors, c, dim);
}

/** Squared distances of vector row q to every anchor, into scratch[0..C), four anchors at a time. */
function distances1(
  v: FloatArray,
  q: number,
  anchors: FloatArray,
  classes: number,
  dim: number,
  out: Float64Array,
): void {
  const o = q * dim;
  let c = 0;
  for (; c + 3 < classes; c += 4) {
    const a0 = c * dim;
    const a1 = a0 + dim;
    const a2 = a1 + dim;
    const a3 = a2 + dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < dim; t++) {
      const x = v[o + t]!;
      let d = x - anchors[a0 + t]!;
      s0 += d * d;
      d = x - anchors[a1 + t]!;
      s1 += d * d;
      d = x - anchors[a2 + t]!;
      s2 += d * d;
      d = x - anchors[a3 + t]!;
      s3 += d * d;
    }
    out[c] = s0;
    out[c + 1] = s1;
    out[c + 2] = s2;
    out[c + 3] = s3;
  }
  for (; c < classes; c++) out[c] = squaredDistance(v, q, anchors, c, dim);
}

/** Keeps the k smallest of scratch[from..from+C) (as float32), nearest first, ties to the lower index. */
function selectNearest(
  scratch: Float64Array,
  from: number,
  classes: number,
  k: number,
  indices: Int32Array,
  distances: Float32Array,
  base: number,
): void {
  let filled = 0;
  // insertion into a sorted list of length ≤ k: C·k in the worst case, fine for k ≪ C; the strict
  // comparison keeps the lower index first among equal distances.
  for (let c = 0; c < classes; c++) {
    const d = Math.fround(scratch[from + c]!);
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

/**
 * Allocation-free core of `nearestAnchors`: writes the k nearest anchors of every vector into
 * `indices` and `distances` (each n×k). `scratch` must hold at least C numbers; with 4·C it
 * works on four vectors at a time, which is faster for batches. Inputs are trusted.
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
  let q = 0;
  if (scratch.length >= 4 * classes) {
    for (; q + 3 < n; q += 4) {
      distances4(vectors, q, anchors, classes, dim, scratch);
      for (let r = 0; r < 4; r++)
        selectNearest(scratch, r * classes, classes, k, indices, distances, (q + r) * k);
    }
  }
  for (; q < n; q++) {
    distances1(vectors, q, anchors, classes, dim, scratch);
    selectNearest(scratch, 0, classes, k, indices, distances, q * k);
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
  nearestAnchorsInto(vectors, anchors, dim, k, indices, distances, new Float64Array(4 * classes));
  return { indices, distances };
}
