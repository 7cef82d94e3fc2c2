/** Digit histogram, reused by every call (single-threaded: no call runs inside another). */
const pairCounts = new Uint32Array(2048);

/**
 * Sorts the first `length` entries of `keys` ascending and moves `values` with them, stably (equal
 * keys keep their order): an LSD radix sort over three 11-bit digits with second buffers for both
 * arrays; digits that every key shares are skipped, short arrays use an insertion sort. For the bit
 * patterns of non-negative float32 values (squared distances) unsigned order is numeric order, so
 * this sorts distances, with their database indices, many times faster than a comparison sort.
 */
export function radixSortPairs(
  keys: Uint32Array,
  values: Int32Array,
  scratchKeys: Uint32Array,
  scratchValues: Int32Array,
  length: number,
): void {
  if (length < 64) {
    for (let i = 1; i < length; i++) {
      const key = keys[i]!;
      const value = values[i]!;
      let j = i - 1;
      while (j >= 0 && keys[j]! > key) {
        keys[j + 1] = keys[j]!;
        values[j + 1] = values[j]!;
        j--;
      }
      keys[j + 1] = key;
      values[j + 1] = value;
    }
    return;
  }
  const counts = pairCounts;
  let src = keys;
  let dst = scratchKeys;
  let srcValues = values;
  let dstValues = scratchValues;
  for (let shift = 0; shift < 32; shift += 11) {
    counts.fill(0);
    for (let i = 0; i < length; i++) counts[(src[i]! >>> shift) & 2047]!++;
    if (counts[(src[0]! >>> shift) & 2047] === length) continue;
    let total = 0;
    for (let b = 0; b < 2048; b++) {
      const c = counts[b]!;
      counts[b] = total;
      total += c;
    }
    for (let i = 0; i < length; i++) {
      const key = src[i]!;
      const at = counts[(key >>> shift) & 2047]!++;
      dst[at] = key;
      dstValues[at] = srcValues[i]!;
    }
    [src, dst] = [dst, src];
    [srcValues, dstValues] = [dstValues, srcValues];
  }
  if (src !== keys) {
    keys.set(src.subarray(0, length));
    values.set(srcValues.subarray(0, length));
  }
}
