import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { radixSortPairs } from './radix-sort.js';

/** Keys only: the values ride along unused. */
function radixSortUint32(keys: Uint32Array, scratch: Uint32Array, length: number): void {
  radixSortPairs(keys, new Int32Array(keys.length), scratch, new Int32Array(keys.length), length);
}

/** The bit patterns of non-negative float32 values, as distances produce them. */
function keysOf(values: number[]): Uint32Array {
  return new Uint32Array(Float32Array.from(values).buffer);
}

describe('radixSortPairs on keys', () => {
  it('sorts float32 bit patterns of non-negative values into numeric order (property)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.float({ min: 0, max: Math.fround(1e30), noNaN: true, noDefaultInfinity: true }),
            fc.constantFrom(0, 1, 2.5, 1e-40, 3.4e38),
          ),
          { maxLength: 3000 },
        ),
        fc.nat(20),
        (values, extra) => {
          const keys = keysOf(values.map((v) => Math.abs(v)));
          const expected = new Float32Array(keys.buffer.slice(0)).sort();
          // a longer buffer: only the first `length` entries are sorted, the rest stay
          const buffer = new Uint32Array(keys.length + extra).fill(7);
          buffer.set(keys);
          radixSortUint32(buffer, new Uint32Array(buffer.length), keys.length);
          expect(Array.from(new Float32Array(buffer.buffer, 0, keys.length))).toEqual(Array.from(expected));
          expect(Array.from(buffer.subarray(keys.length))).toEqual(new Array(extra).fill(7));
        },
      ),
      { numRuns: 200, seed: 3 },
    );
  });

  it('sorts lengths on both sides of the insertion-sort cutoff, with many duplicates and one shared digit', () => {
    for (const length of [0, 1, 63, 64, 65, 255, 256, 257, 5000]) {
      const values = Array.from({ length }, (_, i) => ((i * 7919) % 97) / 8);
      const keys = keysOf(values);
      radixSortUint32(keys, new Uint32Array(length), length);
      expect(Array.from(new Float32Array(keys.buffer))).toEqual([...values].sort((a, b) => a - b));
    }
    // every key equal in the low digits: the skipped passes must leave the order right
    const high = keysOf(Array.from({ length: 600 }, (_, i) => 2 ** ((i * 13) % 40)));
    const expected = new Float32Array(high.buffer.slice(0)).sort();
    radixSortUint32(high, new Uint32Array(600), 600);
    expect(Array.from(new Float32Array(high.buffer))).toEqual(Array.from(expected));
  });
});

describe('radixSortPairs', () => {
  it('sorts keys and moves their values along, stably (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.constantFrom(0, 0.5, 1, 1.5, 2, 3.25, 1e-30, 7e20), { maxLength: 2000 }),
        (values) => {
          const keys = keysOf(values);
          const payload = Int32Array.from(values, (_, i) => i);
          radixSortPairs(
            keys,
            payload,
            new Uint32Array(keys.length),
            new Int32Array(keys.length),
            keys.length,
          );
          // the stable order: by value, then by original position
          const expected = values
            .map((v, i) => [Math.fround(v), i] as const)
            .sort((a, b) => a[0] - b[0] || a[1] - b[1]);
          expect(Array.from(new Float32Array(keys.buffer))).toEqual(expected.map(([v]) => v));
          expect(Array.from(payload)).toEqual(expected.map(([, i]) => i));
        },
      ),
      { numRuns: 200, seed: 5 },
    );
  });
});
