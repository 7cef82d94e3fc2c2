import { AnchorageError } from './errors';
import { squaredDistance } from './nearest';
import { DEFAULT_CAM_OPTIONS } from './options';
import { Random } from './random';
import { checkDim, checkMatrix, type FloatArray } from './validate';

/** How `initAnchors` places the anchors. */
export type AnchorInitStrategy = 'random' | 'spread';

/** Options of `initAnchors`. */
export interface InitAnchorsOptions {
  /** 'spread' (default) starts anchors ≥ 2·margin apart; 'random' draws seeded random directions. */
  strategy?: AnchorInitStrategy;
  seed?: number;
  margin?: number;
  minNorm?: number;
}

function checkPositiveInt(name: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new AnchorageError('INVALID_ARGUMENT', `${name} must be a positive integer, got ${String(value)}`, {
      argument: name,
      value,
    });
  }
  return value;
}

/** Orthonormal rows (Gram–Schmidt on seeded Gaussian vectors); count ≤ dim. */
function orthonormalRows(count: number, dim: number, rng: Random): Float64Array {
  const rows = new Float64Array(count * dim);
  for (let r = 0; r < count; r++) {
    const o = r * dim;
    for (;;) {
      for (let k = 0; k < dim; k++) rows[o + k] = rng.normal();
      // two passes of classical Gram–Schmidt are as stable as modified Gram–Schmidt
      for (let pass = 0; pass < 2; pass++) {
        for (let q = 0; q < r; q++) {
          const oq = q * dim;
          let dot = 0;
          for (let k = 0; k < dim; k++) dot += rows[o + k]! * rows[oq + k]!;
          for (let k = 0; k < dim; k++) rows[o + k] = rows[o + k]! - dot * rows[oq + k]!;
        }
      }
      let norm = 0;
      for (let k = 0; k < dim; k++) norm += rows[o + k]! * rows[o + k]!;
      norm = Math.sqrt(norm);
      if (norm > 1e-6) {
        for (let k = 0; k < dim; k++) rows[o + k] = rows[o + k]! / norm;
        break;
      }
    }
  }
  return rows;
}

/**
 * Integer grid points (all but the origin), nearest to the origin first, as a flat list of
 * `count` rows. Distinct grid points are ≥ 1 apart and have norm ≥ 1.
 */
function gridPoints(count: number, dim: number): Int8Array | Int16Array {
  // Points with coordinates in {−1, 0, 1}, enumerated by support size t (norm √t), suffice
  // whenever 3^dim − 1 ≥ count; smaller dims use a full grid of radius K sorted by norm.
  if (dim * Math.log(3) >= Math.log(count + 1)) {
    const out = new Int8Array(count * dim);
    let written = 0;
    const support = new Int32Array(dim);
    for (let t = 1; t <= dim && written < count; t++) {
      for (let i = 0; i < t; i++) support[i] = i;
      for (;;) {
        for (let signs = 0; signs < 1 << Math.min(t, 30) && written < count; signs++) {
          const o = written * dim;
          for (let i = 0; i < t; i++) out[o + support[i]!] = (signs >> i) & 1 ? -1 : 1;
          written++;
        }
        if (written >= count) break;
        let i = t - 1;
        while (i >= 0 && support[i] === dim - t + i) i--;
        if (i < 0) break;
        support[i]!++;
        for (let j = i + 1; j < t; j++) support[j] = support[j - 1]! + 1;
      }
    }
    return out;
  }
  const radius = Math.ceil((Math.ceil((count + 1) ** (1 / dim)) - 1) / 2) + 1;
  const side = 2 * radius + 1;
  const total = side ** dim;
  const points: { coords: number[]; norm2: number }[] = [];
  for (let p = 0; p < total; p++) {
    let rest = p;
    let norm2 = 0;
    const coords: number[] = [];
    for (let k = 0; k < dim; k++) {
      const c = (rest % side) - radius;
      rest = Math.floor(rest / side);
      coords.push(c);
      norm2 += c * c;
    }
    if (norm2 > 0) points.push({ coords, norm2 });
  }
  points.sort((a, b) => a.norm2 - b.norm2);
  const out = new Int16Array(count * dim);
  for (let r = 0; r < count; r++) out.set(points[r]!.coords, r * dim);
  return out;
}

/**
 * C×dim initial anchors.
 * - `'spread'` (default): anchors start at least 2·margin apart with norm ≥ minNorm, for any C
 *   and dim. For C ≤ 2·dim they are ± the rows of a seeded random orthonormal frame at radius
 *   r = 1.01·max(minNorm, √2·margin) (pairwise distance r√2 or 2r); beyond that, points of an
 *   integer grid with spacing 1.01·max(2·margin, minNorm), nearest to the origin first, with
 *   seeded random axis signs.
 * - `'random'`: seeded Gaussian directions at radius 1.01·max(minNorm, √2·margin); in high
 *   dimensions these are nearly orthogonal, so nearly 2·margin apart, but nothing is guaranteed.
 * @example
 * const anchors = initAnchors(10, 128, { seed: 1 }); // Float32Array(1280)
 */
export function initAnchors(classes: number, dim: number, options: InitAnchorsOptions = {}): Float32Array {
  checkPositiveInt('classes', classes);
  checkDim(dim);
  const strategy = options.strategy ?? 'spread';
  if (strategy !== 'spread' && strategy !== 'random') {
    throw new AnchorageError(
      'INVALID_ARGUMENT',
      `strategy must be 'spread' or 'random', got ${String(strategy)}`,
      {
        argument: 'strategy',
        value: strategy,
      },
    );
  }
  const margin = options.margin ?? DEFAULT_CAM_OPTIONS.margin;
  const minNorm = options.minNorm ?? DEFAULT_CAM_OPTIONS.minNorm;
  if (!Number.isFinite(margin) || margin <= 0) {
    throw new AnchorageError('INVALID_ARGUMENT', `margin must be a finite number > 0, got ${margin}`, {
      argument: 'margin',
      value: margin,
    });
  }
  if (!Number.isFinite(minNorm) || minNorm < 0) {
    throw new AnchorageError('INVALID_ARGUMENT', `minNorm must be a finite number ≥ 0, got ${minNorm}`, {
      argument: 'minNorm',
      value: minNorm,
    });
  }
  const rng = new Random(options.seed ?? 0);
  const out = new Float32Array(classes * dim);
  const radius = 1.01 * Math.max(minNorm, Math.SQRT2 * margin);

  if (strategy === 'random') {
    for (let c = 0; c < classes; c++) {
      const o = c * dim;
      let norm = 0;
      while (norm < 1e-6) {
        norm = 0;
        for (let k = 0; k < dim; k++) {
          out[o + k] = rng.normal();
          norm += out[o + k]! * out[o + k]!;
        }
        norm = Math.sqrt(norm);
      }
      for (let k = 0; k < dim; k++) out[o + k] = (out[o + k]! / norm) * radius;
    }
    return out;
  }

  if (classes <= 2 * dim) {
    const frame = orthonormalRows(Math.min(classes, dim), dim, rng);
    for (let c = 0; c < classes; c++) {
      const row = c < dim ? c : c - dim;
      const sign = c < dim ? 1 : -1;
      for (let k = 0; k < dim; k++) out[c * dim + k] = sign * radius * frame[row * dim + k]!;
    }
    return out;
  }

  const spacing = 1.01 * Math.max(2 * margin, minNorm);
  const grid = gridPoints(classes, dim);
  const signs = new Int8Array(dim);
  for (let k = 0; k < dim; k++) signs[k] = rng.nextFloat() < 0.5 ? -1 : 1;
  for (let i = 0; i < grid.length; i++) out[i] = spacing * signs[i % dim]! * grid[i]!;
  return out;
}

/** Statistics of a set of anchors, to watch during training. */
export interface AnchorStats {
  classes: number;
  /** Euclidean norm of each anchor */
  norms: Float64Array;
  minNorm: number;
  meanNorm: number;
  /** smallest / mean Euclidean distance over unordered pairs (0 / NaN-free: 0 when C = 1) */
  minDistance: number;
  meanDistance: number;
  /** unordered pairs closer than 2·margin (repeller violations) */
  pairsWithinMargin: number;
  /** anchors with norm below minNorm (min-norm violations) */
  belowMinNorm: number;
}

/**
 * Norms, pairwise distances and margin violations of C×dim anchors.
 * @example
 * anchorStats(anchors, 128, { margin: 1, minNorm: 1 }).pairsWithinMargin // 0 when well spread
 */
export function anchorStats(
  anchors: FloatArray,
  dim: number,
  options: { margin?: number; minNorm?: number } = {},
): AnchorStats {
  checkDim(dim);
  const classes = checkMatrix('anchors', anchors, dim, 1);
  const margin = options.margin ?? DEFAULT_CAM_OPTIONS.margin;
  const minNorm = options.minNorm ?? DEFAULT_CAM_OPTIONS.minNorm;
  const norms = new Float64Array(classes);
  let belowMinNorm = 0;
  let sumNorm = 0;
  let smallestNorm = Number.POSITIVE_INFINITY;
  for (let c = 0; c < classes; c++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += anchors[c * dim + k]! * anchors[c * dim + k]!;
    const norm = Math.sqrt(s);
    norms[c] = norm;
    sumNorm += norm;
    if (norm < smallestNorm) smallestNorm = norm;
    if (norm < minNorm) belowMinNorm++;
  }
  let minDistance = classes > 1 ? Number.POSITIVE_INFINITY : 0;
  let sumDistance = 0;
  let pairsWithinMargin = 0;
  const twoM2 = 4 * margin * margin;
  for (let i = 0; i < classes; i++) {
    for (let j = i + 1; j < classes; j++) {
      const d2 = squaredDistance(anchors, i, anchors, j, dim);
      const d = Math.sqrt(d2);
      sumDistance += d;
      if (d < minDistance) minDistance = d;
      if (d2 < twoM2) pairsWithinMargin++;
    }
  }
  const pairs = (classes * (classes - 1)) / 2;
  return {
    classes,
    norms,
    minNorm: smallestNorm,
    meanNorm: sumNorm / classes,
    minDistance,
    meanDistance: pairs > 0 ? sumDistance / pairs : 0,
    pairsWithinMargin,
    belowMinNorm,
  };
}
