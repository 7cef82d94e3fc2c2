import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Random } from '../random';
import { evaluateRetrieval, type RetrievalMetrics } from './retrieval-metrics';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** The protocol computed the obvious way: sort the whole ranked list, walk it. */
function naiveMetrics(ranked: number[][], queryLabels: Int32Array, dbLabels: Int32Array): RetrievalMetrics {
  let ap = 0;
  let ap100 = 0;
  let p10 = 0;
  let p100 = 0;
  ranked.forEach((list, query) => {
    const label = queryLabels[query]!;
    const relevantTotal = dbLabels.filter((l) => l === label).length;
    let hits = 0;
    let sum = 0;
    let sum100 = 0;
    list.forEach((item, i) => {
      if (dbLabels[item] !== label) return;
      hits += 1;
      sum += hits / (i + 1);
      if (i < 100) sum100 += hits / (i + 1);
    });
    ap += relevantTotal ? sum / relevantTotal : 0;
    ap100 += relevantTotal ? sum100 / Math.min(relevantTotal, 100) : 0;
    p10 += list.slice(0, 10).filter((item) => dbLabels[item] === label).length / 10;
    p100 += list.slice(0, 100).filter((item) => dbLabels[item] === label).length / 100;
  });
  const q = ranked.length;
  return { mAP: ap / q, mapAt100: ap100 / q, precisionAt10: p10 / q, precisionAt100: p100 / q };
}

function distance(a: Float32Array, i: number, b: Float32Array, j: number, dim: number): number {
  let s = 0;
  for (let k = 0; k < dim; k++) s += (a[i * dim + k]! - b[j * dim + k]!) ** 2;
  return s;
}

describe('evaluateRetrieval', () => {
  const dim = 6;
  const classes = 4;
  const n = 300;
  const q = 37;
  const rng = new Random(3);
  const anchors = Float32Array.from({ length: classes * dim }, () => 2 * rng.normal());
  const draw = (count: number) => {
    const labels = Int32Array.from({ length: count }, () => rng.nextInt(classes));
    const vectors = new Float32Array(count * dim);
    labels.forEach((label, i) => {
      for (let k = 0; k < dim; k++) vectors[i * dim + k] = anchors[label * dim + k]! + 1.5 * rng.normal();
    });
    return { labels, vectors };
  };
  const db = draw(n);
  const qs = draw(q);
  /** The classes in the order of their anchor's distance to query `query`. */
  const anchorsByDistance = (query: number) =>
    Array.from({ length: classes }, (_, c) => c).sort(
      (a, b) => distance(qs.vectors, query, anchors, a, dim) - distance(qs.vectors, query, anchors, b, dim),
    );
  const result = evaluateRetrieval({
    database: db.vectors,
    databaseLabels: db.labels,
    queries: qs.vectors,
    queryLabels: qs.labels,
    dim,
    classes,
    anchors,
    probes: [1, 2, classes],
    blockSize: 10,
  });

  it('matches a full sort of the database per query', () => {
    const ranked = Array.from({ length: q }, (_, query) =>
      Array.from({ length: n }, (_, i) => i).sort(
        (a, b) =>
          distance(qs.vectors, query, db.vectors, a, dim) - distance(qs.vectors, query, db.vectors, b, dim),
      ),
    );
    const expected = naiveMetrics(ranked, qs.labels, db.labels);
    expect(result.exhaustive.mAP).toBeCloseTo(expected.mAP, 5);
    expect(result.exhaustive.mapAt100).toBeCloseTo(expected.mapAt100, 5);
    expect(result.exhaustive.precisionAt10).toBeCloseTo(expected.precisionAt10, 5);
    expect(result.exhaustive.precisionAt100).toBeCloseTo(expected.precisionAt100, 5);
    expect(result.exhaustive.mAP).toBeGreaterThan(0.3);
  });

  it('two-stage with probe 1 matches the bucket-ordered ranking built by hand', () => {
    const ranked = Array.from({ length: q }, (_, query) => {
      const anchorOrder = anchorsByDistance(query);
      const position = (c: number) => anchorOrder.indexOf(c);
      const d = (i: number) => distance(qs.vectors, query, db.vectors, i, dim);
      // probe 1: the nearest bucket first, then buckets by anchor distance, each by item distance
      return Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => position(db.labels[a]!) - position(db.labels[b]!) || d(a) - d(b),
      );
    });
    const expected = naiveMetrics(ranked, qs.labels, db.labels);
    const probe1 = result.twoStage.find((t) => t.probe === 1)!;
    expect(probe1.mAP).toBeCloseTo(expected.mAP, 5);
    expect(probe1.precisionAt10).toBeCloseTo(expected.precisionAt10, 5);
    expect(probe1.mapAt100).toBeCloseTo(expected.mapAt100, 5);
    expect(probe1.fractionScanned).toBeGreaterThan(0);
    expect(probe1.fractionScanned).toBeLessThan(1);
  });

  it('bucketing by nearest anchor ranks as a database without labels would be, by hand', () => {
    const both = evaluateRetrieval({
      database: db.vectors,
      databaseLabels: db.labels,
      queries: qs.vectors,
      queryLabels: qs.labels,
      dim,
      classes,
      anchors,
      probes: [1],
      buckets: ['labels', 'nearest-anchor'],
    });
    expect(both.twoStage.map((t) => [t.buckets, t.probe])).toEqual([
      ['labels', 1],
      ['nearest-anchor', 1],
    ]);
    const nearestOf = (vectors: Float32Array, i: number) => {
      let best = 0;
      for (let c = 1; c < classes; c++)
        if (distance(vectors, i, anchors, c, dim) < distance(vectors, i, anchors, best, dim)) best = c;
      return best;
    };
    const bucket = Int32Array.from({ length: n }, (_, i) => nearestOf(db.vectors, i));
    // the synthetic clusters overlap, so some items sit in another class's bucket: the two bucketings differ
    expect(bucket.some((b, i) => b !== db.labels[i])).toBe(true);
    const ranked = Array.from({ length: q }, (_, query) => {
      const anchorOrder = anchorsByDistance(query);
      const position = (c: number) => anchorOrder.indexOf(c);
      const d = (i: number) => distance(qs.vectors, query, db.vectors, i, dim);
      return Array.from({ length: n }, (_, i) => i).sort(
        (a, b) => position(bucket[a]!) - position(bucket[b]!) || d(a) - d(b),
      );
    });
    const expected = naiveMetrics(ranked, qs.labels, db.labels);
    const byAnchor = both.twoStage[1]!;
    expect(byAnchor.mAP).toBeCloseTo(expected.mAP, 5);
    expect(byAnchor.precisionAt10).toBeCloseTo(expected.precisionAt10, 5);
    expect(byAnchor.mapAt100).toBeCloseTo(expected.mapAt100, 5);
    const scanned = qs.labels.reduce((sum, _, query) => {
      const first = anchorsByDistance(query)[0]!;
      return sum + bucket.filter((b) => b === first).length / n;
    }, 0);
    expect(byAnchor.fractionScanned).toBeCloseTo(scanned / q, 10);
    expect(byAnchor.mAP).not.toBeCloseTo(both.twoStage[0]!.mAP, 6);
  });

  it('probing every class equals exhaustive search and scans everything', () => {
    const all = result.twoStage.find((t) => t.probe === classes)!;
    expect(all.mAP).toBeCloseTo(result.exhaustive.mAP, 10);
    expect(all.mapKept).toBeCloseTo(1, 10);
    expect(all.fractionScanned).toBeCloseTo(1, 10);
    expect(all.stage1Recall).toBe(1);
  });
});
