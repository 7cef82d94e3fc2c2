import { Random } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { RowStore, simdAvailable, squaredL2, TILE_ROWS } from './l2.js';

function exact(a: Float32Array, b: Float32Array, bOffset: number, dim: number): number {
  let s = 0;
  for (let j = 0; j < dim; j++) s += (a[j]! - b[bOffset + j]!) ** 2;
  return s;
}

describe('squared-L2 kernel', () => {
  it('runs in WebAssembly SIMD on Node', () => {
    expect(simdAvailable()).toBe(true);
  });

  it('the SIMD kernel and the JavaScript kernel agree bit for bit, for every dim shape', () => {
    const rng = new Random(5);
    for (const dim of [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 31, 64, 100, 128, 513]) {
      // Enough rows (≥ 32 KiB) for the block to live in SIMD memory.
      const count = Math.ceil(40_000 / (4 * dim)) + 5;
      const store = new RowStore(dim, count);
      expect(store.usesSimd).toBe(true);
      const rows = Float32Array.from({ length: count * dim }, () => rng.normal() * 10);
      store.rows.set(rows);
      const query = Float32Array.from({ length: dim }, () => rng.normal() * 10);
      store.setQuery(query, 0);
      const fromKernel: number[] = [];
      for (let start = 0; start < count; start += TILE_ROWS) {
        fromKernel.push(...store.distances(start, Math.min(count, start + TILE_ROWS)));
      }
      const fromJs = Array.from({ length: count }, (_, r) => squaredL2(query, 0, rows, r * dim, dim));
      expect(fromKernel).toEqual(fromJs);
      const plain = new RowStore(dim, count, false);
      plain.rows.set(rows);
      plain.setQuery(query, 0);
      const fromPlain: number[] = [];
      for (let start = 0; start < count; start += TILE_ROWS) {
        fromPlain.push(...plain.distances(start, Math.min(count, start + TILE_ROWS)));
      }
      expect(fromPlain).toEqual(fromJs);
      for (let r = 0; r < count; r++) {
        const want = exact(query, rows, r * dim, dim);
        expect(Math.abs(fromKernel[r]! - want)).toBeLessThanOrEqual(want * (dim + 4) * 1.2e-7);
      }
    }
  });

  it('is exact on small integers and zero for identical vectors', () => {
    const a = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const b = Float32Array.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(squaredL2(a, 0, b, 0, 9)).toBe(285);
    expect(squaredL2(a, 0, b, 9, 9)).toBe(0);
  });

  it.each([true, false])(
    'keeps rows across growth and shrinking, and tiles past TILE_ROWS (simd %s)',
    (simd) => {
      const dim = 5;
      const store = new RowStore(dim, 4, simd);
      store.rows.set(Float32Array.from({ length: 20 }, (_, i) => i));
      store.resize(3 * TILE_ROWS, 4);
      expect(Array.from(store.rows.subarray(0, 20))).toEqual(Array.from({ length: 20 }, (_, i) => i));
      store.rows.fill(1, 20);
      store.setQuery(new Float32Array(dim), 0);
      const last = store.distances(2 * TILE_ROWS, 3 * TILE_ROWS);
      expect(last.length).toBe(TILE_ROWS);
      expect(last.every((d) => d === 5)).toBe(true);
      store.resize(2, 2);
      expect(store.capacity).toBe(2);
      expect(Array.from(store.rows)).toEqual(Array.from({ length: 10 }, (_, i) => i));
      store.setQuery(Float32Array.from([0, 1, 2, 3, 4]), 0);
      expect(Array.from(store.distances(0, 2))).toEqual([0, 125]);
    },
  );
});
