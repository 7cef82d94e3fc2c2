import { AnchorageError, initAnchors, Random } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { AnchorIndex } from '../anchor/index.js';
import { squaredL2 } from '../kernel/l2.js';
import { evaluateAnchorIndex } from './anchor-evaluation.js';
import { evaluateRetrieval, evaluateRetrievalMany, type RetrievalEvaluationInput } from './evaluate.js';
import {
  mapAtK,
  mapAtR,
  meanAveragePrecision,
  precisionAtK,
  recallAtK,
  rPrecision,
} from './metric-functions.js';

/** The definitions, applied literally to a materialised ranking. */
function naive(input: RetrievalEvaluationInput) {
  const { dim, ks = [1, 10, 100] } = input;
  const n = input.database.length / dim;
  const q = input.queries.length / dim;
  // The indexes' float32 kernel (itself checked against exact arithmetic in kernel/l2.test.ts).
  const dist = (qi: number, i: number) => squaredL2(input.queries, qi * dim, input.database, i * dim, dim);
  const anchorDist = (qi: number, c: number) => {
    let s = 0;
    for (let j = 0; j < dim; j++) {
      const d = input.queries[qi * dim + j]! - input.twoStage!.anchors[c * dim + j]!;
      s += d * d;
    }
    return Math.fround(s);
  };
  const sums = {
    ap: 0,
    rp: 0,
    mapR: 0,
    pk: ks.map(() => 0),
    mapk: ks.map(() => 0),
    recall: ks.map(() => 0),
    scanned: 0,
  };
  let evaluated = 0;
  for (let qi = 0; qi < q; qi++) {
    const all = Array.from({ length: n }, (_, i) => ({ i, d: dist(qi, i), group: 0 }));
    const exact = [...all].sort((a, b) => a.d - b.d || a.i - b.i).map((x) => x.i);
    let ranking = exact;
    if (input.twoStage) {
      const classes = input.twoStage.anchors.length / dim;
      const order = Array.from({ length: classes }, (_, c) => c).sort(
        (a, b) => anchorDist(qi, a) - anchorDist(qi, b) || a - b,
      );
      const buckets = input.twoStage.buckets as readonly number[];
      const position = new Int32Array(classes);
      order.forEach((c, at) => {
        position[c] = at;
      });
      const groupOf = (i: number) => Math.max(0, position[buckets[i]!]! - input.twoStage!.probe + 1);
      const included = all.filter((x) => input.twoStage!.fullRanking !== false || groupOf(x.i) === 0);
      ranking = included
        .sort((a, b) => groupOf(a.i) - groupOf(b.i) || a.d - b.d || a.i - b.i)
        .map((x) => x.i);
      sums.scanned += all.filter((x) => groupOf(x.i) === 0).length / n;
    } else sums.scanned += 1;
    ks.forEach((k, j) => {
      const truth = new Set(exact.slice(0, k));
      sums.recall[j]! += ranking.slice(0, k).filter((i) => truth.has(i)).length / Math.min(k, n);
    });
    const label = Number(input.queryLabels[qi]);
    const rel = ranking.map((i) => Number(input.databaseLabels[i]) === label);
    const R = Array.from(input.databaseLabels).filter((l) => Number(l) === label).length;
    if (R === 0) continue;
    evaluated++;
    const apTo = (limit: number) => {
      let hits = 0;
      let s = 0;
      rel.slice(0, limit).forEach((r, pos) => {
        if (r) s += ++hits / (pos + 1);
      });
      return s;
    };
    const count = (limit: number) => rel.slice(0, limit).filter(Boolean).length;
    sums.ap += apTo(n) / R;
    sums.rp += count(R) / R;
    sums.mapR += apTo(R) / R;
    ks.forEach((k, j) => {
      sums.pk[j]! += count(k) / k;
      sums.mapk[j]! += apTo(k) / Math.min(R, k);
    });
  }
  return {
    evaluated,
    skipped: q - evaluated,
    meanAveragePrecision: sums.ap / evaluated,
    rPrecision: sums.rp / evaluated,
    mapAtR: sums.mapR / evaluated,
    precisionAtK: Object.fromEntries(ks.map((k, j) => [k, sums.pk[j]! / evaluated])),
    mapAtK: Object.fromEntries(ks.map((k, j) => [k, sums.mapk[j]! / evaluated])),
    recallAtK: Object.fromEntries(ks.map((k, j) => [k, sums.recall[j]! / q])),
    scannedFraction: sums.scanned / q,
  };
}

function expectClose(actual: Record<string, unknown>, expected: Record<string, unknown>) {
  for (const [key, value] of Object.entries(expected)) {
    if (typeof value === 'number') expect(actual[key], key).toBeCloseTo(value, 12);
    else expect(actual[key], key).toEqual(value === undefined ? undefined : expect.anything());
    if (typeof value === 'object' && value !== null) {
      for (const [k, v] of Object.entries(value)) {
        expect((actual[key] as Record<string, number>)[k], `${key}[${k}]`).toBeCloseTo(v as number, 12);
      }
    }
  }
}

function dataset(seed: number, n: number, q: number, dim: number, classes: number, quantise: boolean) {
  const rng = new Random(seed);
  const anchors = initAnchors(classes, dim, { seed });
  const make = (count: number) => {
    const labels = Int32Array.from({ length: count }, () => rng.nextInt(classes));
    const vectors = new Float32Array(count * dim);
    for (let i = 0; i < count; i++) {
      for (let j = 0; j < dim; j++) {
        const v = anchors[labels[i]! * dim + j]! * 0.5 + rng.normal();
        vectors[i * dim + j] = quantise ? Math.round(v) : v;
      }
    }
    return { labels, vectors };
  };
  const db = make(n);
  const qs = make(q);
  return {
    anchors,
    database: db.vectors,
    databaseLabels: db.labels,
    queries: qs.vectors,
    queryLabels: qs.labels,
  };
}

describe('evaluateRetrieval on hand-computed cases', () => {
  it('ranks a line of five items', () => {
    // Distances from the query at 0: 1, 4, 9, 16, 25; relevant (label 0) at ranks 1, 3, 4; R = 3.
    const m = evaluateRetrieval({
      queries: new Float32Array([0]),
      queryLabels: [0],
      database: new Float32Array([1, 2, 3, 4, 5]),
      databaseLabels: [0, 1, 0, 0, 1],
      dim: 1,
      ks: [1, 2, 4],
    });
    expect(m.meanAveragePrecision).toBeCloseTo((1 + 2 / 3 + 3 / 4) / 3, 12);
    expect(m.rPrecision).toBeCloseTo(2 / 3, 12);
    expect(m.mapAtR).toBeCloseTo((1 + 2 / 3) / 3, 12);
    expect(m.precisionAtK).toEqual({ 1: 1, 2: 0.5, 4: 0.75 });
    expect(m.mapAtK[2]).toBeCloseTo(1 / 2, 12);
    expect(m.mapAtK[4]).toBeCloseTo((1 + 2 / 3 + 3 / 4) / 3, 12);
    expect(m.recallAtK).toEqual({ 1: 1, 2: 1, 4: 1 });
    expect(m.scannedFraction).toBe(1);
  });

  it('breaks ties by database order', () => {
    // Distances 1, 1, 1, 4: the irrelevant item 0 comes first, so the relevant ranks are 2, 3, 4.
    const input = {
      queries: new Float32Array([0]),
      queryLabels: [0],
      database: new Float32Array([1, -1, 1, 2]),
      databaseLabels: [1, 0, 0, 0],
      dim: 1,
      ks: [1, 2],
    };
    const m = evaluateRetrieval(input);
    expect(m.meanAveragePrecision).toBeCloseTo((1 / 2 + 2 / 3 + 3 / 4) / 3, 12);
    expect(m.precisionAtK).toEqual({ 1: 0, 2: 0.5 });
    // Moving the irrelevant item last in database order puts it after the tie.
    const swapped = evaluateRetrieval({ ...input, databaseLabels: [0, 0, 1, 0] });
    expect(swapped.meanAveragePrecision).toBeCloseTo((1 + 1 + 3 / 4) / 3, 12);
  });

  it('skips and counts queries without relevant items', () => {
    const m = evaluateRetrieval({
      queries: new Float32Array([0, 0]),
      queryLabels: [0, 7],
      database: new Float32Array([1, 2]),
      databaseLabels: [0, 1],
      dim: 1,
      ks: [1],
    });
    expect(m).toMatchObject({ queries: 2, evaluated: 1, skipped: 1, meanAveragePrecision: 1 });
    expect(m.precisionAtK[1]).toBe(1);
    const none = evaluateRetrieval({
      queries: new Float32Array([0]),
      queryLabels: [3],
      database: new Float32Array([1]),
      databaseLabels: [0],
      dim: 1,
    });
    expect(none).toMatchObject({ evaluated: 0, skipped: 1, meanAveragePrecision: 0 });
  });

  it('refuses bad input with typed errors', () => {
    const base = {
      queries: new Float32Array([0, 0]),
      queryLabels: [0],
      database: new Float32Array([1, 2]),
      databaseLabels: [0, 1],
      dim: 1,
    };
    const code = (input: RetrievalEvaluationInput) => {
      try {
        evaluateRetrieval(input);
      } catch (error) {
        expect(error).toBeInstanceOf(AnchorageError);
        return (error as AnchorageError).code;
      }
      return 'accepted';
    };
    expect(code(base)).toBe('DIMENSION_MISMATCH');
    expect(code({ ...base, queryLabels: [0, -1] })).toBe('LABEL_OUT_OF_RANGE');
    expect(code({ ...base, queryLabels: [0, 0], ks: [0] })).toBe('INVALID_ARGUMENT');
    expect(code({ ...base, queryLabels: [0, 0], database: new Float32Array([1, Number.NaN]) })).toBe(
      'NON_FINITE',
    );
    const twoStage = { anchors: new Float32Array([0, 1]), probe: 3 };
    expect(code({ ...base, queryLabels: [0, 0], twoStage })).toBe('INVALID_ARGUMENT');
    expect(
      code({ ...base, queryLabels: [0, 0], databaseLabels: [0, 2], twoStage: { ...twoStage, probe: 1 } }),
    ).toBe('LABEL_OUT_OF_RANGE');
  });
});

describe('evaluateRetrieval against the naive definitions', () => {
  const dim = 6;
  const classes = 5;
  for (const quantise of [false, true]) {
    const data = dataset(quantise ? 2 : 1, 300, 40, dim, classes, quantise);
    const ks = [1, 5, 10, 100, 500];
    const base = { ...data, dim, ks, chunkSize: 7 };

    it(`matches exhaustively${quantise ? ' with many ties' : ''}`, () => {
      expectClose(evaluateRetrieval(base) as unknown as Record<string, unknown>, naive(base));
    });

    for (const probe of [1, 2, classes]) {
      for (const fullRanking of [true, false]) {
        it(`matches two-stage, probe ${probe}, full ranking ${fullRanking}${quantise ? ', ties' : ''}`, () => {
          const input = {
            ...base,
            twoStage: { anchors: data.anchors, probe, fullRanking, buckets: Array.from(data.databaseLabels) },
          };
          const got = evaluateRetrieval(input);
          expectClose(got as unknown as Record<string, unknown>, naive(input));
          if (probe === classes) {
            const exact = evaluateRetrieval(base);
            expect(got.meanAveragePrecision).toBe(exact.meanAveragePrecision);
            expect(got.recallAtK).toEqual(exact.recallAtK);
          }
        });
      }
    }
  }

  // groups of thousands: relevant distances radix-sorted, irrelevant ones placed among them (at
  // shared distances by database index)
  for (const quantise of [false, true]) {
    it(`matches on a database of 3,000${quantise ? ' with many ties' : ''}, exhaustive and two-stage`, () => {
      const big = dataset(quantise ? 4 : 3, 3000, 25, dim, classes, quantise);
      const input = { ...big, dim, ks: [10, 100, 1000], chunkSize: 4 };
      expectClose(evaluateRetrieval(input) as unknown as Record<string, unknown>, naive(input));
      const twoStage = {
        ...input,
        twoStage: { anchors: big.anchors, probe: 2, buckets: Array.from(big.databaseLabels) },
      };
      const expected = naive(twoStage);
      expectClose(evaluateRetrieval(twoStage) as unknown as Record<string, unknown>, expected);
      const [, shared] = evaluateRetrievalMany(input, [undefined, twoStage.twoStage]);
      expectClose(shared as unknown as Record<string, unknown>, expected);
    });
  }

  // buckets that mix labels, as nearest-anchor buckets do: a query's relevant items are spread over
  // many groups, each with irrelevant items of its own
  for (const quantise of [false, true]) {
    it(`matches two-stage over buckets that mix labels${quantise ? ', ties' : ''}`, () => {
      const data = dataset(quantise ? 8 : 7, 1200, 20, dim, classes, quantise);
      const rng = new Random(quantise ? 18 : 17);
      const buckets = Array.from({ length: 1200 }, (_, i) =>
        rng.nextInt(4) === 0 ? rng.nextInt(classes) : data.databaseLabels[i]!,
      );
      for (const probe of [1, 2])
        for (const fullRanking of [true, false]) {
          const input = {
            ...data,
            dim,
            ks: [1, 10, 100],
            chunkSize: 6,
            twoStage: { anchors: data.anchors, probe, fullRanking, buckets },
          };
          const expected = naive(input);
          // alone (ranked group by group) and beside the exhaustive ranking (sharing its order)
          expectClose(evaluateRetrieval(input) as unknown as Record<string, unknown>, expected);
          const [, shared] = evaluateRetrievalMany(input, [undefined, input.twoStage]);
          expectClose(shared as unknown as Record<string, unknown>, expected);
        }
    });
  }

  it('matches with more buckets × labels than it counts per bucket (every bucket is then scanned)', () => {
    // 2,100 anchors × 2,000 labels is past the per-bucket label counts' limit (2^20)
    const rng = new Random(31);
    const anchors = initAnchors(2100, dim, { seed: 31 });
    const vectors = (count: number) => Float32Array.from({ length: count * dim }, () => rng.normal());
    const input = {
      database: vectors(2500),
      databaseLabels: Int32Array.from({ length: 2500 }, (_, i) => (i < 2000 ? i : rng.nextInt(20))),
      queries: vectors(12),
      queryLabels: Int32Array.from({ length: 12 }, () => rng.nextInt(20)),
      dim,
      ks: [1, 10, 100],
      twoStage: {
        anchors,
        probe: 3,
        buckets: Array.from({ length: 2500 }, () => rng.nextInt(2100)),
      },
    };
    const expected = naive(input);
    expectClose(evaluateRetrieval(input) as unknown as Record<string, unknown>, expected);
    const [, shared] = evaluateRetrievalMany(input, [undefined, input.twoStage]);
    expectClose(shared as unknown as Record<string, unknown>, expected);
  });

  it('evaluateRetrievalMany gives every ranking exactly as evaluateRetrieval alone', () => {
    const data = dataset(6, 700, 30, dim, classes, true);
    const input = { ...data, dim, ks: [1, 10, 100], chunkSize: 9 };
    const rankings = [
      undefined,
      { anchors: data.anchors, probe: 1 },
      { anchors: data.anchors, probe: 2, buckets: 'nearestAnchor' as const },
      { anchors: data.anchors, probe: 3, fullRanking: false },
    ];
    const many = evaluateRetrievalMany(input, rankings);
    expect(many).toHaveLength(4);
    rankings.forEach((twoStage, i) => {
      expect(many[i]).toEqual(evaluateRetrieval(twoStage === undefined ? input : { ...input, twoStage }));
    });
    expect(evaluateRetrievalMany(input, [])).toEqual([]);
    expect(() => evaluateRetrievalMany(input, [undefined, { anchors: data.anchors, probe: 99 }])).toThrow(
      AnchorageError,
    );
  });

  it('the shortcut functions agree with evaluateRetrieval', () => {
    const data = dataset(3, 120, 15, dim, classes, false);
    const input = { ...data, dim, ks: [10] };
    const all = evaluateRetrieval(input);
    expect(meanAveragePrecision(input)).toBe(all.meanAveragePrecision);
    expect(mapAtK(input, 10)).toBe(all.mapAtK[10]);
    expect(precisionAtK(input, 10)).toBe(all.precisionAtK[10]);
    expect(rPrecision(input)).toBe(all.rPrecision);
    expect(mapAtR(input)).toBe(all.mapAtR);
    expect(recallAtK(input, 10)).toBe(1);
  });

  it('evaluateAnchorIndex equals evaluateRetrieval over the same items and reports progress', () => {
    const data = dataset(4, 200, 25, dim, classes, false);
    const index = new AnchorIndex({ dim, anchors: data.anchors });
    index.add({
      ids: Array.from({ length: 200 }, (_, i) => i),
      vectors: data.database,
      labels: data.databaseLabels,
    });
    const progress: number[] = [];
    const viaIndex = evaluateAnchorIndex(index, {
      queries: data.queries,
      queryLabels: data.queryLabels,
      probe: 2,
      ks: [10],
      chunkSize: 10,
      onProgress: (done) => progress.push(done),
    });
    const direct = evaluateRetrieval({
      ...data,
      dim,
      ks: [10],
      twoStage: { anchors: data.anchors, probe: 2 },
    });
    expect(viaIndex).toEqual(direct);
    expect(progress).toEqual([10, 20, 25]);
    // The index's own top 10 is the head of that ranking: recall@10 computed from it agrees.
    let recall = 0;
    const exact = evaluateRetrieval({ ...data, dim, ks: [10] });
    expect(exact.recallAtK[10]).toBe(1);
    for (let q = 0; q < 25; q++) {
      const query = data.queries.subarray(q * dim, (q + 1) * dim);
      const approx = index.search(query, { k: 10, probe: 2 }).hits.map((h) => h.id);
      const truth = new Set(index.search(query, { k: 10, probe: classes }).hits.map((h) => h.id));
      recall += approx.filter((id) => truth.has(id)).length / 10;
    }
    expect(viaIndex.recallAtK[10]).toBeCloseTo(recall / 25, 12);
  });
});
