import { readFile } from 'node:fs/promises';
import { Random } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { CodeStore, codeStride, encodeRow, queryBound } from './int8.js';
import { L2_WASM, TILE_ROWS } from './l2.js';

function allDistances(store: CodeStore, count: number): number[] {
  const out: number[] = [];
  for (let start = 0; start < count; start += TILE_ROWS)
    out.push(...store.distances(start, Math.min(count, start + TILE_ROWS)));
  return out;
}

function fill(store: CodeStore, rows: Float32Array, dim: number): void {
  for (let r = 0; r < rows.length / dim; r++) store.encode(r, rows, r * dim);
}

describe('int8 codes', () => {
  it('the embedded module is l2.wat compiled', async () => {
    const { default: initWabt } = await import('wabt');
    const wabt = await initWabt();
    const text = await readFile(new URL('./l2.wat', import.meta.url), 'utf8');
    const module = wabt.parseWat('l2.wat', text, { simd: true, threads: true });
    const { buffer } = module.toBinary({});
    module.destroy();
    expect(Buffer.from(buffer).toString('base64')).toBe(L2_WASM);
  });

  it('encode each row as a scale, its exact squared norm and codes within ±127 that reconstruct it', () => {
    const rng = new Random(11);
    const dim = 37;
    const row = Float32Array.from({ length: dim }, () => rng.normal() * 3);
    const bytes = new Int8Array(codeStride(dim));
    const floats = new Float32Array(bytes.buffer);
    encodeRow(row, 0, dim, bytes, floats, 0);
    const max = Math.max(...row.map(Math.abs));
    expect(floats[0]).toBe(Math.fround(max / 127));
    expect(floats[1]).toBeCloseTo(
      row.reduce((s, v) => s + v * v, 0),
      3,
    );
    for (let j = 0; j < dim; j++) {
      expect(Math.abs(bytes[16 + j]!)).toBeLessThanOrEqual(127);
      // rounding to the nearest code: at most half a step off
      expect(Math.abs(bytes[16 + j]! * floats[0]! - row[j]!)).toBeLessThanOrEqual(floats[0]! / 2 + 1e-6);
    }
    expect([...bytes.subarray(16 + dim)].every((b) => b === 0)).toBe(true);
    // the largest component gets the extreme code
    expect(Math.max(...bytes.subarray(16, 16 + dim).map(Math.abs))).toBe(127);
    // a zero row codes to zeros, with scale 0
    encodeRow(new Float32Array(dim), 0, dim, bytes, floats, 0);
    expect(floats[0]).toBe(0);
    expect([...bytes.subarray(16)].every((b) => b === 0)).toBe(true);
  });

  it('the SIMD kernel and the JavaScript kernel agree bit for bit, for every dim shape', () => {
    const rng = new Random(5);
    for (const dim of [1, 3, 8, 15, 16, 17, 31, 64, 100, 128, 513]) {
      // enough rows (≥ 32 KiB of codes) for the store to live in SIMD memory
      const count = Math.ceil(40_000 / codeStride(dim)) + 5;
      const rows = Float32Array.from({ length: count * dim }, () => rng.normal() * 10);
      const simd = new CodeStore(dim, count);
      const plain = new CodeStore(dim, count, false);
      expect(simd.usesSimd).toBe(true);
      expect(plain.usesSimd).toBe(false);
      fill(simd, rows, dim);
      fill(plain, rows, dim);
      const query = Float32Array.from({ length: dim }, () => rng.normal() * 10);
      simd.setQuery(query, 0);
      plain.setQuery(query, 0);
      expect(allDistances(simd, count)).toEqual(allDistances(plain, count));
    }
  });

  it('estimate the squared distance within the quantisation error of the row', () => {
    const rng = new Random(9);
    const dim = 96;
    const count = 500;
    const rows = Float32Array.from({ length: count * dim }, () => rng.normal());
    const store = new CodeStore(dim, count);
    fill(store, rows, dim);
    const query = Float32Array.from({ length: dim }, () => rng.normal());
    store.setQuery(query, 0);
    const estimates = allDistances(store, count);
    for (let r = 0; r < count; r++) {
      let exact = 0;
      let max = 0;
      let qNorm = 0;
      for (let j = 0; j < dim; j++) {
        exact += (query[j]! - rows[r * dim + j]!) ** 2;
        max = Math.max(max, Math.abs(rows[r * dim + j]!));
        qNorm += query[j]! ** 2;
      }
      // |2·q·(x − x̂)| ≤ 2·‖q‖·‖x − x̂‖ ≤ 2·‖q‖·√dim·(scale / 2), plus the query's own rounding
      const bound = 2 * Math.sqrt(qNorm) * Math.sqrt(dim) * (max / 127 / 2) * 1.01 + 1e-3;
      expect(Math.abs(estimates[r]! - exact)).toBeLessThanOrEqual(bound);
    }
  });

  it('cannot overflow: extreme codes and queries at the largest dim bound give the exact integer dot product', () => {
    for (const dim of [128, 4096]) {
      const count = Math.ceil(40_000 / codeStride(dim)) + 1;
      // every component at ±max: codes ±127, the query at ±Q, all products of one sign
      const rows = Float32Array.from({ length: count * dim }, (_, i) => (i % 2 === 0 ? 5 : -5));
      const query = Float32Array.from({ length: dim }, (_, j) => (j % 2 === 0 ? -3 : 3));
      const simd = new CodeStore(dim, count);
      const plain = new CodeStore(dim, count, false);
      fill(simd, rows, dim);
      fill(plain, rows, dim);
      simd.setQuery(query, 0);
      plain.setQuery(query, 0);
      const fromSimd = allDistances(simd, count);
      expect(fromSimd).toEqual(allDistances(plain, count));
      // ‖q − x‖² = dim · 8² exactly; the estimate reconstructs ±5 and ±3 without rounding
      const row0 = (dim / 2) * 64 * 2;
      expect(fromSimd[0]).toBeCloseTo(row0, 0);
      expect(queryBound(dim) * 127 * Math.ceil(dim / 16) * 16).toBeLessThanOrEqual(2 ** 31 - 1);
    }
  });

  it('keep codes in step when rows move and when the store grows (plain buffer, then SIMD memory grown in place)', () => {
    const rng = new Random(3);
    const dim = 64;
    const n = 1500;
    const rows = Float32Array.from({ length: n * dim }, () => rng.normal());
    const store = new CodeStore(dim, 4);
    const reference = new CodeStore(dim, n, false);
    const kinds = new Set<boolean>();
    for (let r = 0; r < n; r++) {
      if (r >= 4 && (r & (r - 1)) === 0) {
        store.resize(2 * r, r);
        kinds.add(store.usesSimd);
      }
      store.encode(r, rows, r * dim);
    }
    expect([...kinds].sort()).toEqual([false, true]);
    fill(reference, rows, dim);
    store.move(0, n - 1);
    reference.move(0, n - 1);
    const query = Float32Array.from({ length: dim }, () => rng.normal());
    store.setQuery(query, 0);
    reference.setQuery(query, 0);
    expect(allDistances(store, n - 1)).toEqual(allDistances(reference, n - 1));
  });
});
