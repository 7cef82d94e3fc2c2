import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { Random } from '../random';
import { carveValidation, epochOrder, limitIndices, sampleShots } from './sampling';

const labels = Int32Array.from({ length: 100 }, (_, i) => i % 4); // 25 per class

describe('sampleShots', () => {
  it('takes exactly K distinct indices of every class, sorted, the same for the same seed', () => {
    const picked = sampleShots(labels, 5, 11);
    expect(picked.length).toBe(20);
    expect(new Set(picked).size).toBe(20);
    expect(Array.from(picked)).toEqual(Array.from(picked).sort((a, b) => a - b));
    const perClass = [0, 0, 0, 0];
    for (const i of picked) perClass[labels[i]!]!++;
    expect(perClass).toEqual([5, 5, 5, 5]);
    expect(Array.from(sampleShots(labels, 5, 11))).toEqual(Array.from(picked));
    expect(Array.from(sampleShots(labels, 5, 12))).not.toEqual(Array.from(picked));
  });

  it('throws when a class has fewer than K examples (including an absent class)', () => {
    expect(() => sampleShots(labels, 26, 1)).toThrow(/class 0 has 25 examples, fewer than shots = 26/);
    expect(() => sampleShots(labels, 1, 1, 5)).toThrow(AnchorageError);
    expect(() => sampleShots(labels, 0, 1)).toThrow(expect.objectContaining({ argument: 'shots' }));
  });
});

describe('limitIndices', () => {
  it('takes N distinct sorted indices, seeded; all of them when N ≥ size', () => {
    const a = limitIndices(1000, 50, 3);
    expect(a.length).toBe(50);
    expect(new Set(a).size).toBe(50);
    expect(Array.from(a)).toEqual(Array.from(limitIndices(1000, 50, 3)));
    expect(Array.from(a)).not.toEqual(Array.from({ length: 50 }, (_, i) => i));
    expect(limitIndices(10, 50, 3).length).toBe(10);
    expect(() => limitIndices(10, -1, 3)).toThrow(AnchorageError);
  });
});

describe('epochOrder', () => {
  it('is a permutation that continues the generator (different each epoch)', () => {
    const rng = new Random(9);
    const first = epochOrder(30, rng);
    const second = epochOrder(30, rng);
    expect(Array.from(first).sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    expect(Array.from(second)).not.toEqual(Array.from(first));
  });
});

describe('carveValidation', () => {
  it('holds out a seeded, stratified share of every class, disjoint from the rest', () => {
    const labels = Int32Array.from({ length: 100 }, (_, i) => (i < 60 ? 0 : i < 90 ? 1 : 2));
    const { train, validation } = carveValidation(labels, 0.2, 4);
    const count = (set: Int32Array, c: number) => Array.from(set).filter((i) => labels[i] === c).length;
    expect([0, 1, 2].map((c) => count(validation, c))).toEqual([12, 6, 2]);
    expect([...train, ...validation].sort((a, b) => a - b)).toEqual(Array.from({ length: 100 }, (_, i) => i));
    expect(carveValidation(labels, 0.2, 4).validation).toEqual(validation);
    expect(carveValidation(labels, 0.2, 5).validation).not.toEqual(validation);
    expect(carveValidation(Int32Array.from([3]), 0.5, 1).validation.length).toBe(0);
    expect(() => carveValidation(labels, 1, 1)).toThrow(/fraction/);
  });
});
