import { describe, expect, it } from 'vitest';
import { SeededRandom } from './random';

describe('SeededRandom', () => {
  it('is deterministic by seed', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    const c = new SeededRandom(43);
    const xs = Array.from({ length: 20 }, () => a.nextUint32());
    expect(Array.from({ length: 20 }, () => b.nextUint32())).toEqual(xs);
    expect(Array.from({ length: 20 }, () => c.nextUint32())).not.toEqual(xs);
  });

  it('restores its exact state, including a pending normal sample', () => {
    const r = new SeededRandom(1);
    r.normal();
    const state = JSON.parse(JSON.stringify(r.getState()));
    const after = [r.normal(), r.normal(), r.nextFloat(), r.nextInt(1000)];
    const s = new SeededRandom(999);
    s.setState(state);
    expect([s.normal(), s.normal(), s.nextFloat(), s.nextInt(1000)]).toEqual(after);
  });

  it('is roughly uniform and normal', () => {
    const r = new SeededRandom(7);
    const n = 100_000;
    const buckets = new Array(10).fill(0);
    let sum = 0;
    let sumSq = 0;
    for (let i = 0; i < n; i++) {
      buckets[r.nextInt(10)]++;
      const z = r.normal();
      sum += z;
      sumSq += z * z;
    }
    for (const b of buckets) expect(Math.abs(b - n / 10)).toBeLessThan(500); // ~5 σ
    expect(Math.abs(sum / n)).toBeLessThan(0.02);
    expect(Math.abs(sumSq / n - 1)).toBeLessThan(0.03);
  });

  it('shuffles into a permutation', () => {
    const a = Int32Array.from({ length: 100 }, (_, i) => i);
    new SeededRandom(3).shuffle(a);
    expect(Array.from(a).sort((x, y) => x - y)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 100 }, (_, i) => i));
  });
});
