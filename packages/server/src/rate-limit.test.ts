import { describe, expect, it } from 'vitest';
import { RateLimiter } from './rate-limit.js';

describe('RateLimiter', () => {
  it('allows a burst, then refills at the rate, per client', () => {
    let now = 0;
    const limiter = new RateLimiter(2, 3, () => now);
    expect([1, 2, 3].map(() => limiter.take('a'))).toEqual([0, 0, 0]);
    expect(limiter.take('a')).toBeCloseTo(0.5, 9); // one token needs 1/2 s
    expect(limiter.take('b')).toBe(0);
    now = 250; // half a token back
    expect(limiter.take('a')).toBeCloseTo(0.25, 9);
    now = 500;
    expect(limiter.take('a')).toBe(0);
    now = 60_000; // never more than the burst
    expect([1, 2, 3, 4].map(() => limiter.take('a') === 0)).toEqual([true, true, true, false]);
  });
});
