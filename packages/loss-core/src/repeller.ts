import type { CamLossOptions } from './options';
import type { FloatArray } from './validate';

/** Above this many anchors the C×C coefficient matrix is not kept (it would take > 32 MiB). */
const DENSE_MAX_CLASSES = 2048;

/** Scratch memory of the repeller, owned by `CamLoss` so training steps allocate nothing. */
export interface RepellerWorkspace {
  /** C×dim float64 accumulator of the anchors' repeller gradient */
  grad: Float64Array;
  norms2: Float64Array;
  norms: Float64Array;
  /** per-anchor sum of its pairs' coefficients g = 2h·λ_R/D */
  coefSum: Float64Array;
  /** C×C symmetric pair coefficients (dense path), or a dim-long row accumulator (sparse path) */
  coef: Float64Array;
  dense: boolean;
  /** 4×4 tile of dot products */
  dots: Float64Array;
  // per-call state, kept here so the hot path allocates no closures
  anchors: FloatArray;
  dim: number;
  classes: number;
  twoM: number;
  twoM2: number;
  weight: number;
  sum: number;
  anyActive: boolean;
}

/** Allocates the repeller's scratch memory for C anchors of `dim` coordinates. */
export function createRepellerWorkspace(
  classes: number,
  dim: number,
  dense = classes <= DENSE_MAX_CLASSES,
): RepellerWorkspace {
  return {
    grad: new Float64Array(classes * dim),
    norms2: new Float64Array(classes),
    norms: new Float64Array(classes),
    coefSum: new Float64Array(classes),
    coef: new Float64Array(dense ? classes * classes : dim),
    dense,
    dots: new Float64Array(16),
    anchors: new Float32Array(0),
    dim,
    classes,
    twoM: 0,
    twoM2: 0,
    weight: 0,
    sum: 0,
    anyActive: false,
  };
}

function exactSquaredDistance(a: FloatArray, oi: number, oj: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) {
    const d = a[oi + k]! - a[oj + k]!;
    s += d * d;
  }
  return s;
}

/**
 * The repeller term `Σ_{y<y'} max(0, 2m − ‖c_y − c_y'‖)²` (reduced), left in `work.sum`, adding
 * its λ_R-weighted gradient into `gradA`. Inputs are trusted.
 *
 * This is the O(C²·dim) part of the loss, so it is arranged for speed:
 * - pairs are skipped without a dot product when |‖c_i‖ − ‖c_j‖| ≥ 2m (then D ≥ 2m);
 * - D² = ‖c_i‖² + ‖c_j‖² − 2·c_i·c_j, one anchor against four at a time, and recomputed exactly
 *   from differences when it is within rounding of 0 or of (2m)², so that the set of active pairs
 *   and coinciding anchors are decided exactly;
 * - with g = 2h·λ_R/D per active pair, ∂/∂c_i = −Σ_j g (c_i − c_j) = −(Σ_j g)·c_i + Σ_j g·c_j;
 *   the second sum is a product of the symmetric C×C coefficient matrix with the anchors, done
 *   four rows at a time (for C above DENSE_MAX_CLASSES, pair by pair instead);
 * - everything accumulates in float64.
 */
export function repellerInto(
  anchors: FloatArray,
  classes: number,
  dim: number,
  options: CamLossOptions,
  gradA: FloatArray,
  work: RepellerWorkspace,
): void {
  const twoM = 2 * options.margin;
  const twoM2 = twoM * twoM;
  const pairs = classes * (classes - 1);
  const sR = options.reduction.repeller === 'mean' ? (pairs > 0 ? 1 / pairs : 0) : 1;
  const wR = options.repellerWeight * sR;
  const { grad, norms2, norms, coefSum, coef, dense } = work;
  grad.fill(0);
  coefSum.fill(0);
  if (dense) coef.fill(0);
  for (let c = 0; c < classes; c++) {
    const o = c * dim;
    let s = 0;
    for (let k = 0; k < dim; k++) s += anchors[o + k]! * anchors[o + k]!;
    norms2[c] = s;
    norms[c] = Math.sqrt(s);
  }

  work.anchors = anchors;
  work.twoM = twoM;
  work.twoM2 = twoM2;
  work.weight = wR;
  work.sum = 0;
  work.anyActive = false;
  const dots = work.dots;
  // Dot products in 4×4 tiles of (i, j) over the upper triangle: 8 loads feed 16 multiply-adds.
  for (let i0 = 0; i0 < classes; i0 += 4) {
    const ni = Math.min(4, classes - i0);
    for (let j0 = i0; j0 < classes; j0 += 4) {
      const nj = Math.min(4, classes - j0);
      let needed = false;
      for (let a = 0; a < ni && !needed; a++)
        for (let b = 0; b < nj && !needed; b++) needed = j0 + b > i0 + a && !far(work, i0 + a, j0 + b);
      if (!needed) continue;
      if (ni === 4 && nj === 4) tileDots(anchors, i0 * dim, j0 * dim, dim, dots);
      else
        for (let a = 0; a < ni; a++)
          for (let b = 0; b < nj; b++) {
            const oi = (i0 + a) * dim;
            const oj = (j0 + b) * dim;
            let s = 0;
            for (let k = 0; k < dim; k++) s += anchors[oi + k]! * anchors[oj + k]!;
            dots[a * 4 + b] = s;
          }
      for (let a = 0; a < ni; a++)
        for (let b = 0; b < nj; b++) {
          const i = i0 + a;
          const j = j0 + b;
          if (j > i && !far(work, i, j)) pair(work, i, j, a * 4 + b);
        }
    }
  }

  if (dense && work.anyActive) addCoefTimesAnchors(coef, anchors, classes, dim, grad);

  for (let c = 0; c < classes; c++) {
    const o = c * dim;
    const g = coefSum[c]!;
    for (let k = 0; k < dim; k++) gradA[o + k] = gradA[o + k]! + grad[o + k]! - g * anchors[o + k]!;
  }
  work.anchors = EMPTY;
  work.sum *= sR;
}

const EMPTY = new Float32Array(0);

/** True when the norms alone prove anchors i and j at least 2m apart. */
function far(w: RepellerWorkspace, i: number, j: number): boolean {
  const gap = w.norms[i]! - w.norms[j]!;
  return gap >= w.twoM || -gap >= w.twoM;
}

/**
 * One candidate pair whose dot product is `w.dots[slot]`: adds its h² and records its gradient
 * coefficient. (The dot product is passed by slot, not by value: a double argument to a call that
 * is not inlined is boxed, which would allocate once per pair.)
 */
function pair(w: RepellerWorkspace, i: number, j: number, slot: number): void {
  const dot = w.dots[slot]!;
  const { norms2, anchors, dim, twoM, twoM2, weight, coefSum, coef, grad, classes } = w;
  const ni2 = norms2[i]!;
  const nj2 = norms2[j]!;
  let dist2 = ni2 + nj2 - 2 * dot;
  const rounding = 1e-9 * (ni2 + nj2);
  if (dist2 <= rounding || Math.abs(dist2 - twoM2) <= rounding) {
    dist2 = exactSquaredDistance(anchors, i * dim, j * dim, dim);
  }
  if (dist2 >= twoM2) return;
  const dist = Math.sqrt(dist2);
  const h = twoM - dist;
  w.sum += h * h;
  if (weight === 0) return;
  w.anyActive = true;
  if (dist2 > 0) {
    const g = (2 * h * weight) / dist;
    coefSum[i] = coefSum[i]! + g;
    coefSum[j] = coefSum[j]! + g;
    if (w.dense) {
      coef[i * classes + j] = g;
      coef[j * classes + i] = g;
    } else {
      // sparse path: ∂/∂c_i gets +g·c_j and ∂/∂c_j gets +g·c_i right away
      const oi = i * dim;
      const oj = j * dim;
      for (let t = 0; t < dim; t++) {
        grad[oi + t] = grad[oi + t]! + g * anchors[oj + t]!;
        grad[oj + t] = grad[oj + t]! + g * anchors[oi + t]!;
      }
    }
  } else {
    // coinciding anchors: the documented axis sub-gradient, i along +axis and j along −axis
    const c = 2 * h * weight;
    const axis = (i + j) % dim;
    grad[i * dim + axis] = grad[i * dim + axis]! - c;
    grad[j * dim + axis] = grad[j * dim + axis]! + c;
  }
}

/** Anchors per chunk of the G·A product: 64 rows of up to 512 floats stay in L2 while reused. */
const J_CHUNK = 64;

/**
 * grad += G·A for the symmetric C×C coefficient matrix G and the C×dim anchors A. A 4×4 register
 * tile (four rows of G by four coordinates) turns 8 loads into 16 multiply-adds; j runs in chunks
 * so the anchor rows it reads stay in cache across the coordinate blocks.
 */
function addCoefTimesAnchors(
  coef: Float64Array,
  anchors: FloatArray,
  classes: number,
  dim: number,
  grad: Float64Array,
): void {
  const dim4 = dim - (dim % 4);
  for (let i = 0; i < classes; i += 4) {
    const rows = Math.min(4, classes - i);
    const r0 = i * classes;
    const r1 = rows > 1 ? r0 + classes : r0;
    const r2 = rows > 2 ? r1 + classes : r0;
    const r3 = rows > 3 ? r2 + classes : r0;
    // rows past the end alias row 0 with a zero multiplier so the tile needs no branches
    const m1 = rows > 1 ? 1 : 0;
    const m2 = rows > 2 ? 1 : 0;
    const m3 = rows > 3 ? 1 : 0;
    for (let j0 = 0; j0 < classes; j0 += J_CHUNK) {
      const j1 = Math.min(classes, j0 + J_CHUNK);
      let active = false;
      for (let j = j0; j < j1 && !active; j++) {
        active =
          coef[r0 + j] !== 0 ||
          coef[r1 + j]! * m1 !== 0 ||
          coef[r2 + j]! * m2 !== 0 ||
          coef[r3 + j]! * m3 !== 0;
      }
      if (!active) continue;
      for (let k = 0; k < dim4; k += 4) {
        let c00 = 0,
          c01 = 0,
          c02 = 0,
          c03 = 0;
        let c10 = 0,
          c11 = 0,
          c12 = 0,
          c13 = 0;
        let c20 = 0,
          c21 = 0,
          c22 = 0,
          c23 = 0;
        let c30 = 0,
          c31 = 0,
          c32 = 0,
          c33 = 0;
        for (let j = j0; j < j1; j++) {
          const g0 = coef[r0 + j]!;
          const g1 = coef[r1 + j]! * m1;
          const g2 = coef[r2 + j]! * m2;
          const g3 = coef[r3 + j]! * m3;
          const o = j * dim + k;
          const x0 = anchors[o]!;
          const x1 = anchors[o + 1]!;
          const x2 = anchors[o + 2]!;
          const x3 = anchors[o + 3]!;
          c00 += g0 * x0;
          c01 += g0 * x1;
          c02 += g0 * x2;
          c03 += g0 * x3;
          c10 += g1 * x0;
          c11 += g1 * x1;
          c12 += g1 * x2;
          c13 += g1 * x3;
          c20 += g2 * x0;
          c21 += g2 * x1;
          c22 += g2 * x2;
          c23 += g2 * x3;
          c30 += g3 * x0;
          c31 += g3 * x1;
          c32 += g3 * x2;
          c33 += g3 * x3;
        }
        const a0 = i * dim + k;
        grad[a0] = grad[a0]! + c00;
        grad[a0 + 1] = grad[a0 + 1]! + c01;
        grad[a0 + 2] = grad[a0 + 2]! + c02;
        grad[a0 + 3] = grad[a0 + 3]! + c03;
        if (rows > 1) {
          const a1 = a0 + dim;
          grad[a1] = grad[a1]! + c10;
          grad[a1 + 1] = grad[a1 + 1]! + c11;
          grad[a1 + 2] = grad[a1 + 2]! + c12;
          grad[a1 + 3] = grad[a1 + 3]! + c13;
        }
        if (rows > 2) {
          const a2 = a0 + 2 * dim;
          grad[a2] = grad[a2]! + c20;
          grad[a2 + 1] = grad[a2 + 1]! + c21;
          grad[a2 + 2] = grad[a2 + 2]! + c22;
          grad[a2 + 3] = grad[a2 + 3]! + c23;
        }
        if (rows > 3) {
          const a3 = a0 + 3 * dim;
          grad[a3] = grad[a3]! + c30;
          grad[a3 + 1] = grad[a3 + 1]! + c31;
          grad[a3 + 2] = grad[a3 + 2]! + c32;
          grad[a3 + 3] = grad[a3 + 3]! + c33;
        }
      }
      for (let k = dim4; k < dim; k++) {
        for (let r = 0; r < rows; r++) {
          const row = (i + r) * classes;
          let acc = 0;
          for (let j = j0; j < j1; j++) acc += coef[row + j]! * anchors[j * dim + k]!;
          grad[(i + r) * dim + k] = grad[(i + r) * dim + k]! + acc;
        }
      }
    }
  }
}

/** The 4×4 dot products of anchor rows starting at offsets `oi` and `oj`, into `out` (row-major). */
function tileDots(anchors: FloatArray, oi: number, oj: number, dim: number, out: Float64Array): void {
  const i1 = oi + dim;
  const i2 = i1 + dim;
  const i3 = i2 + dim;
  const j1 = oj + dim;
  const j2 = j1 + dim;
  const j3 = j2 + dim;
  let c00 = 0,
    c01 = 0,
    c02 = 0,
    c03 = 0;
  let c10 = 0,
    c11 = 0,
    c12 = 0,
    c13 = 0;
  let c20 = 0,
    c21 = 0,
    c22 = 0,
    c23 = 0;
  let c30 = 0,
    c31 = 0,
    c32 = 0,
    c33 = 0;
  for (let k = 0; k < dim; k++) {
    const a0 = anchors[oi + k]!;
    const a1 = anchors[i1 + k]!;
    const a2 = anchors[i2 + k]!;
    const a3 = anchors[i3 + k]!;
    const b0 = anchors[oj + k]!;
    const b1 = anchors[j1 + k]!;
    const b2 = anchors[j2 + k]!;
    const b3 = anchors[j3 + k]!;
    c00 += a0 * b0;
    c01 += a0 * b1;
    c02 += a0 * b2;
    c03 += a0 * b3;
    c10 += a1 * b0;
    c11 += a1 * b1;
    c12 += a1 * b2;
    c13 += a1 * b3;
    c20 += a2 * b0;
    c21 += a2 * b1;
    c22 += a2 * b2;
    c23 += a2 * b3;
    c30 += a3 * b0;
    c31 += a3 * b1;
    c32 += a3 * b2;
    c33 += a3 * b3;
  }
  out[0] = c00;
  out[1] = c01;
  out[2] = c02;
  out[3] = c03;
  out[4] = c10;
  out[5] = c11;
  out[6] = c12;
  out[7] = c13;
  out[8] = c20;
  out[9] = c21;
  out[10] = c22;
  out[11] = c23;
  out[12] = c30;
  out[13] = c31;
  out[14] = c32;
  out[15] = c33;
}
