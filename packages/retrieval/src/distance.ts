/**
 * Squared Euclidean distance between `a[aOffset..aOffset+dim)` and `b[bOffset..bOffset+dim)`,
 * accumulated in float64 over the float32 components. Every index and the metrics use this one
 * kernel, so their distances agree bit for bit (four partial sums, then `(s0 + s1) + (s2 + s3)`).
 */
export function squaredL2(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  dim: number,
): number {
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  const end = dim - (dim & 3);
  let j = 0;
  for (; j < end; j += 4) {
    const d0 = a[aOffset + j]! - b[bOffset + j]!;
    const d1 = a[aOffset + j + 1]! - b[bOffset + j + 1]!;
    const d2 = a[aOffset + j + 2]! - b[bOffset + j + 2]!;
    const d3 = a[aOffset + j + 3]! - b[bOffset + j + 3]!;
    s0 += d0 * d0;
    s1 += d1 * d1;
    s2 += d2 * d2;
    s3 += d3 * d3;
  }
  for (; j < dim; j++) {
    const d = a[aOffset + j]! - b[bOffset + j]!;
    s0 += d * d;
  }
  return s0 + s1 + (s2 + s3);
}
