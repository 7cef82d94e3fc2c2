import { describe, expect, it } from 'vitest';
import { AnchorageError } from './errors';
import { Random } from './random';

describe('Random', () => {
  it('gives the same stream for the same seed and different streams for nearby seeds', () => {
    const a = new Random(7);
    const b = new Random(7);
    const c = new Random(8);
    const sa = Array.from({ length: 100 }, () => a.nextUint32());
    const sb = Array.from({ length: 100 }, () => b.nextUint32());
    const sc = Array.from({ length: 100 }, () => c.nextUint32());
    expect(sa).toEqual(sb);
    expect(sa.filter((x, i) => x === sc[i]).length).toBe(0);
  });

  it('restores the exact stream from a JSON round-trip of its state', () => {
    const rng = new Random(123);
    for (let i = 0; i < 37; i++) rng.normal();
    const saved = JSON.parse(JSON.stringify(rng.getState()));
    const expected = [rng.nextFloat(), rng.nextInt(10), rng.normal(), rng.nextUint32()];
    const restored = Random.fromState(saved);
    expect([restored.nextFloat(), restored.nextInt(10), restored.normal(), restored.nextUint32()]).toEqual(
      expected,
    );
  });

  it('nextFloat is roughly uniform on [0, 1)', () => {
    const rng = new Random(1);
    const n = 100_000;
    const bins = new Array(10).fill(0);
    let sum = 0;
    let outside = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.nextFloat();
      if (!(x >= 0 && x < 1)) outside++;
      else bins[Math.floor(x * 10)]++;
      sum += x;
    }
    // one assertion after the loop: 100,000 expect calls cost seconds on a busy machine
    expect(outside).toBe(0);
    expect(sum / n).toBeCloseTo(0.5, 2);
    // chi-square with 9 degrees of freedom: 27.9 is the 0.999 quantile
    const chi2 = bins.reduce((s, c) => s + (c - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9);
  });

  it('nextInt covers [0, n) evenly', () => {
    const rng = new Random(2);
    const counts = new Array(7).fill(0);
    for (let i = 0; i < 70_000; i++) counts[rng.nextInt(7)]++;
    for (const c of counts) expect(Math.abs(c - 10_000)).toBeLessThan(500);
  });

  it('normal has mean 0 and variance 1', () => {
    const rng = new Random(3);
    const n = 100_000;
    let s = 0;
    let s2 = 0;
    for (let i = 0; i < n; i++) {
      const x = rng.normal();
      s += x;
      s2 += x * x;
    }
    expect(Math.abs(s / n)).toBeLessThan(0.02);
    expect(Math.abs(s2 / n - 1)).toBeLessThan(0.03);
  });

  it('shuffle is a seeded permutation', () => {
    const a = new Random(5).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
    const b = new Random(5).shuffle(Int32Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('rejects bad arguments with AnchorageError', () => {
    const cases: Array<[() => unknown, string]> = [
      [() => new Random(Number.NaN), 'seed'],
      [() => new Random(1).nextInt(0), 'n'],
      [() => new Random(1).nextInt(2.5), 'n'],
      [() => new Random(1).setState({ algorithm: 'sfc32', words: [1, 2, 3] } as never), 'state'],
    ];
    for (const [fn, argument] of cases) {
      expect(fn).toThrow(AnchorageError);
      expect(fn).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT', argument }));
    }
  });
});
