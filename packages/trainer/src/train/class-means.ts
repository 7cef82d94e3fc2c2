/**
 * The mean of each class's vectors, C×dim row-major: the class anchors of a loss that has none of
 * its own. A class without vectors gets the zero vector.
 */
export function classMeans(
  vectors: Float32Array,
  labels: Int32Array,
  classes: number,
  dim: number,
): Float32Array {
  const sums = new Float64Array(classes * dim);
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) {
    const c = labels[i]!;
    counts[c]! += 1;
    for (let k = 0; k < dim; k++) sums[c * dim + k]! += vectors[i * dim + k]!;
  }
  const out = new Float32Array(classes * dim);
  for (let c = 0; c < classes; c++) {
    if (counts[c] === 0) continue;
    for (let k = 0; k < dim; k++) out[c * dim + k] = sums[c * dim + k]! / counts[c]!;
  }
  return out;
}
