/**
 * The losses' formulas written once more, independently of tfjs: plain float64 loops over the
 * definitions in the README ("Losses") and loss-core, which the conformance suite takes as ground
 * truth (values, and gradients by central finite differences).
 */

/** Inputs of a reference loss: row-major float64 arrays. */
export interface ReferenceInput {
  embeddings: Float64Array;
  labels: Int32Array;
  classes: number;
  dim: number;
  /** Every loss variable by name, row-major. */
  variables: Record<string, Float64Array>;
  options: Record<string, number | string>;
}

const EPS = 1e-12;

function normalizeRows(x: Float64Array, dim: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / dim; r++) {
    let s = 0;
    for (let k = 0; k < dim; k++) s += x[r * dim + k]! ** 2;
    const n = Math.sqrt(s + EPS);
    for (let k = 0; k < dim; k++) out[r * dim + k] = x[r * dim + k]! / n;
  }
  return out;
}

function sqDist(a: Float64Array, i: number, b: Float64Array, j: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += (a[i * dim + k]! - b[j * dim + k]!) ** 2;
  return s;
}

function crossEntropy(
  e: Float64Array,
  y: Int32Array,
  C: number,
  d: number,
  W: Float64Array,
  b: Float64Array,
): number {
  let total = 0;
  for (let i = 0; i < y.length; i++) {
    const logits = Array.from({ length: C }, (_, c) => {
      let z = b[c]!;
      for (let k = 0; k < d; k++) z += e[i * d + k]! * W[k * C + c]!;
      return z;
    });
    const max = Math.max(...logits);
    const lse = max + Math.log(logits.reduce((s, z) => s + Math.exp(z - max), 0));
    total += lse - logits[y[i]!]!;
  }
  return total / y.length;
}

function cam(input: ReferenceInput): number {
  const { embeddings: e, labels: y, classes: C, dim: d, variables, options } = input;
  const a = variables.anchors!;
  const m = options.margin as number;
  const p = options.minNorm as number;
  let attractor = 0;
  for (let i = 0; i < y.length; i++) attractor += 0.5 * sqDist(e, i, a, y[i]!, d);
  attractor /= y.length;
  let repeller = 0;
  for (let u = 0; u < C; u++)
    for (let v = 0; v < C; v++) {
      if (u === v) continue;
      repeller += 0.5 * Math.max(0, 2 * m - Math.sqrt(sqDist(a, u, a, v, d))) ** 2;
    }
  let minNorm = 0;
  for (let u = 0; u < C; u++) {
    let s = 0;
    for (let k = 0; k < d; k++) s += a[u * d + k]! ** 2;
    minNorm += Math.max(0, p - Math.sqrt(s));
  }
  return (
    attractor + (options.repellerWeight as number) * repeller + (options.minNormWeight as number) * minNorm
  );
}

function center(input: ReferenceInput): number {
  const { embeddings: e, labels: y, classes: C, dim: d, variables, options } = input;
  let term = 0;
  for (let i = 0; i < y.length; i++) term += 0.5 * sqDist(e, i, variables.centers!, y[i]!, d);
  return (
    crossEntropy(e, y, C, d, variables.weight!, variables.bias!) +
    (options.centerWeight as number) * (term / y.length)
  );
}

function contrastive(input: ReferenceInput): number {
  const { labels: y, dim: d, options } = input;
  const e = normalizeRows(input.embeddings, d);
  const margin = options.margin as number;
  let pos = 0;
  let nPos = 0;
  let neg = 0;
  let nNeg = 0;
  for (let i = 0; i < y.length; i++)
    for (let j = i + 1; j < y.length; j++) {
      const sq = sqDist(e, i, e, j, d);
      if (y[i] === y[j]) {
        pos += 0.5 * sq;
        nPos++;
      } else {
        neg += 0.5 * Math.max(0, margin - Math.sqrt(sq + EPS)) ** 2;
        nNeg++;
      }
    }
  return (nPos > 0 ? pos / nPos : 0) + (nNeg > 0 ? neg / nNeg : 0);
}

function triplet(input: ReferenceInput): number {
  const { labels: y, dim: d, options } = input;
  const e = normalizeRows(input.embeddings, d);
  let total = 0;
  let count = 0;
  for (let i = 0; i < y.length; i++) {
    let ap = -Infinity;
    let an = Infinity;
    for (let j = 0; j < y.length; j++) {
      if (j === i) continue;
      const dist = Math.sqrt(sqDist(e, i, e, j, d) + EPS);
      if (y[j] === y[i]) ap = Math.max(ap, dist);
      else an = Math.min(an, dist);
    }
    if (ap === -Infinity || an === Infinity) continue;
    total += Math.max(0, ap - an + (options.margin as number));
    count++;
  }
  return count > 0 ? total / count : 0;
}

function proxyAnchor(input: ReferenceInput): number {
  const { labels: y, classes: C, dim: d, options } = input;
  const e = normalizeRows(input.embeddings, d);
  const p = normalizeRows(input.variables.proxies!, d);
  const alpha = options.alpha as number;
  const delta = options.delta as number;
  let positive = 0;
  let present = 0;
  let negative = 0;
  for (let c = 0; c < C; c++) {
    let posSum = 0;
    let negSum = 0;
    let members = 0;
    for (let i = 0; i < y.length; i++) {
      let s = 0;
      for (let k = 0; k < d; k++) s += e[i * d + k]! * p[c * d + k]!;
      if (y[i] === c) {
        posSum += Math.exp(-alpha * (s - delta));
        members++;
      } else negSum += Math.exp(alpha * (s + delta));
    }
    if (members > 0) {
      positive += Math.log(1 + posSum);
      present++;
    }
    negative += Math.log(1 + negSum);
  }
  return (present > 0 ? positive / present : 0) + negative / C;
}

/** The reference value of every built-in loss, by registry name. */
export const REFERENCE_LOSSES: Record<string, (input: ReferenceInput) => number> = {
  cam,
  'cross-entropy': (i) =>
    crossEntropy(i.embeddings, i.labels, i.classes, i.dim, i.variables.weight!, i.variables.bias!),
  center,
  contrastive,
  triplet,
  'proxy-anchor': proxyAnchor,
};

/** Central finite differences of `f` at `x` (changed in place and restored), step h. */
export function finiteDifferences(f: () => number, x: Float64Array, h = 1e-6): Float64Array {
  const grad = new Float64Array(x.length);
  for (let k = 0; k < x.length; k++) {
    const saved = x[k]!;
    x[k] = saved + h;
    const up = f();
    x[k] = saved - h;
    const down = f();
    x[k] = saved;
    grad[k] = (up - down) / (2 * h);
  }
  return grad;
}
