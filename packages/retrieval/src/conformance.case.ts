import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import type { SearchPool } from './pool/index.js';
import type {
  AddBatch,
  AsyncVectorIndex,
  ItemId,
  SearchOptions,
  SearchResult,
  StoredItem,
  VectorIndex,
} from './types.js';

/** Either kind of index: the suite awaits every call. */
export type IndexUnderTest = VectorIndex | AsyncVectorIndex;

/** What an implementation can do beyond the common interface; each flag turns on its tests. */
export interface ConformanceCapabilities {
  /**
   * The index is two-stage (buckets by label or nearest anchor, `probe` honoured, labels checked
   * against 0..C-1). When false the index is exhaustive: `probe` is ignored and `bucket` is -1.
   */
  twoStage: boolean;
  /** `fullRanking: true` is supported (two-stage only). */
  fullRanking?: boolean;
  /**
   * Equal distances are ordered by insertion (an id re-added counts as new). When false, tied
   * hits may come in any order but the set of tied ids must still be right.
   */
  stableTies?: boolean;
  /** Relative tolerance on distances (default 1e-6; an index that computes in float32 may need more). */
  distanceTolerance?: number;
  /** `save(path)` + this loader round-trip the index. */
  load?: (path: string) => Promise<IndexUnderTest>;
  /**
   * The indexes `create` makes search their batches on this pool (`searchPool`); the suite also
   * checks that the pool's synchronous and asynchronous searches give the single-threaded answers,
   * ties included, across writes, and that writes wait for an asynchronous search.
   */
  pool?: SearchPool;
  /** Called after each test with the index it created (close connections and the like). */
  dispose?: (index: IndexUnderTest) => Promise<void>;
}

/** Creates a fresh empty index for one test; `anchors` is C×dim row-major. */
export type CreateIndex = (options: { dim: number; anchors: Float32Array }) => Promise<IndexUnderTest>;

const DIM = 8;
const CLASSES = 4;

/** mulberry32: a small seeded generator so every run sees the same data. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function makeAnchors(): Float32Array {
  const anchors = new Float32Array(CLASSES * DIM);
  // Anchors on distinct axes at distance 4√2 from each other: buckets are well separated.
  for (let c = 0; c < CLASSES; c++) anchors[c * DIM + c] = 4;
  return anchors;
}

/** n vectors scattered around the anchors (label = the anchor they were drawn around). */
function makeData(n: number, seed: number, spread = 1.5): { vectors: Float32Array; labels: Int32Array } {
  const rnd = random(seed);
  const anchors = makeAnchors();
  const vectors = new Float32Array(n * DIM);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rnd() * CLASSES);
    labels[i] = c;
    for (let j = 0; j < DIM; j++) vectors[i * DIM + j] = anchors[c * DIM + j]! + (rnd() * 2 - 1) * spread;
  }
  return { vectors, labels };
}

interface ModelItem {
  id: ItemId;
  vector: Float32Array;
  label: number | undefined;
  bucket: number;
}

function sqDist(a: Float32Array, b: Float32Array, bOffset = 0): number {
  let s = 0;
  for (let j = 0; j < a.length; j++) {
    const d = a[j]! - b[bOffset + j]!;
    s += d * d;
  }
  return s;
}

/** The naive reference: a Map in insertion order (re-adding moves an id to the end). */
class ReferenceIndex {
  readonly items = new Map<ItemId, ModelItem>();
  constructor(
    readonly anchors: Float32Array,
    readonly twoStage: boolean,
  ) {}

  private anchorOrder(q: Float32Array): { anchor: number; distance: number }[] {
    const out: { anchor: number; distance: number }[] = [];
    for (let c = 0; c < CLASSES; c++) out.push({ anchor: c, distance: sqDist(q, this.anchors, c * DIM) });
    return out.sort((x, y) => x.distance - y.distance || x.anchor - y.anchor);
  }

  add(batch: AddBatch): void {
    batch.ids.forEach((id, i) => {
      const vector = batch.vectors.slice(i * DIM, (i + 1) * DIM);
      const label = batch.labels === undefined ? undefined : Number(batch.labels[i]);
      const bucket = !this.twoStage ? -1 : label !== undefined ? label : this.anchorOrder(vector)[0]!.anchor;
      this.items.delete(id);
      this.items.set(id, { id, vector, label, bucket });
    });
  }

  search(q: Float32Array, options: SearchOptions = {}): { id: ItemId; distance: number }[] {
    const k = options.k ?? 10;
    const all = [...this.items.values()].map((item, order) => ({
      id: item.id,
      bucket: item.bucket,
      order,
      distance: sqDist(q, item.vector),
    }));
    const byDistance = (x: (typeof all)[number], y: (typeof all)[number]) =>
      x.distance - y.distance || x.order - y.order;
    if (!this.twoStage) return all.sort(byDistance).slice(0, k);
    const order = this.anchorOrder(q).map((a) => a.anchor);
    const probe = options.probe ?? 1;
    const probed = new Set(order.slice(0, probe));
    const head = all.filter((x) => probed.has(x.bucket)).sort(byDistance);
    if (!options.fullRanking) return head.slice(0, k);
    const tail = order
      .slice(probe)
      .flatMap((bucket) => all.filter((x) => x.bucket === bucket).sort(byDistance));
    return [...head, ...tail].slice(0, k);
  }
}

async function sizeOf(index: IndexUnderTest): Promise<number> {
  return typeof index.size === 'function' ? await index.size() : index.size;
}

async function snapshot(index: IndexUnderTest): Promise<StoredItem[]> {
  const out: StoredItem[] = [];
  for await (const item of index.items()) out.push(item);
  return out.sort((a, b) => keyOf(a.id).localeCompare(keyOf(b.id)));
}

function keyOf(id: ItemId): string {
  return `${typeof id}:${id}`;
}

async function expectRejects(
  index: IndexUnderTest,
  action: () => unknown,
  code: string,
  argument?: string,
): Promise<void> {
  const before = await snapshot(index);
  let caught: unknown;
  try {
    await action();
  } catch (error) {
    caught = error;
  }
  expect(caught, `expected AnchorageError ${code}`).toBeInstanceOf(AnchorageError);
  expect((caught as AnchorageError).code).toBe(code);
  if (argument !== undefined) expect((caught as AnchorageError).argument).toBe(argument);
  expect(await snapshot(index)).toEqual(before);
}

/** Runs the shared behaviour tests of every `VectorIndex` / `AsyncVectorIndex` implementation. */
export function runConformanceSuite(
  name: string,
  create: CreateIndex,
  capabilities: ConformanceCapabilities,
): void {
  const { twoStage, stableTies = true } = capabilities;
  const tolerance = capabilities.distanceTolerance ?? 1e-6;

  const expectSameRanking = (actual: SearchResult, expected: { id: ItemId; distance: number }[]) => {
    expect(actual.hits.map((h) => h.distance).length).toBe(expected.length);
    actual.hits.forEach((hit, i) => {
      const want = expected[i]!.distance;
      expect(Math.abs(hit.distance - want)).toBeLessThanOrEqual(tolerance * Math.max(1, want));
    });
    if (stableTies) {
      expect(actual.hits.map((h) => h.id)).toEqual(expected.map((e) => e.id));
      return;
    }
    // Without a tie order, compare per group of equal distances; the last group may be cut by k.
    let start = 0;
    while (start < expected.length) {
      let end = start + 1;
      const d = expected[start]!.distance;
      while (end < expected.length && Math.abs(expected[end]!.distance - d) <= tolerance * Math.max(1, d))
        end++;
      const got = actual.hits.slice(start, end).map((h) => keyOf(h.id));
      const want = expected.slice(start, end).map((e) => keyOf(e.id));
      if (end === expected.length) for (const g of got) expect(want).toContain(g);
      else expect(got.sort()).toEqual(want.sort());
      start = end;
    }
  };

  describe(`${name} conformance`, () => {
    const withIndex = (title: string, body: (index: IndexUnderTest, ref: ReferenceIndex) => Promise<void>) =>
      it(title, async () => {
        const anchors = makeAnchors();
        const index = await create({ dim: DIM, anchors });
        try {
          await body(index, new ReferenceIndex(anchors, twoStage));
        } finally {
          await capabilities.dispose?.(index);
        }
      });

    const fill = async (
      index: IndexUnderTest,
      ref: ReferenceIndex,
      n: number,
      seed: number,
      labelled: boolean,
    ) => {
      const { vectors, labels } = makeData(n, seed);
      const ids: ItemId[] = Array.from({ length: n }, (_, i) =>
        i % 2 === 0 ? `item-${seed}-${i}` : seed * 10_000 + i,
      );
      const batch: AddBatch = labelled ? { ids, vectors, labels } : { ids, vectors };
      await index.add(batch);
      ref.add(batch);
      return { ids, vectors, labels };
    };

    withIndex('starts empty and answers an empty search', async (index) => {
      expect(index.dim).toBe(DIM);
      expect(await sizeOf(index)).toBe(0);
      expect(await snapshot(index)).toEqual([]);
      const result = await index.search(new Float32Array(DIM), { k: 3 });
      expect(result.hits).toEqual([]);
    });

    withIndex('add, get, has and items return what was stored', async (index, ref) => {
      const { ids, vectors, labels } = await fill(index, ref, 40, 1, true);
      expect(await sizeOf(index)).toBe(40);
      for (let i = 0; i < ids.length; i++) {
        expect(await index.has(ids[i]!)).toBe(true);
        const item = await index.get(ids[i]!);
        expect(item).toBeDefined();
        expect(item!.id).toBe(ids[i]);
        expect(Array.from(item!.vector)).toEqual(Array.from(vectors.subarray(i * DIM, (i + 1) * DIM)));
        expect(item!.label).toBe(labels[i]);
        expect(item!.bucket).toBe(twoStage ? labels[i] : -1);
      }
      // Numbers and strings are distinct ids.
      const numeric = ids.find((id) => typeof id === 'number')!;
      expect(await index.has(String(numeric))).toBe(false);
      expect(await index.get('missing')).toBeUndefined();
      const listed = await snapshot(index);
      expect(listed.map((item) => keyOf(item.id)).sort()).toEqual(ids.map(keyOf).sort());
    });

    withIndex('get returns a copy the caller may mutate', async (index, ref) => {
      const { ids, vectors } = await fill(index, ref, 5, 2, true);
      const item = await index.get(ids[0]!);
      item!.vector.fill(99);
      const again = await index.get(ids[0]!);
      expect(Array.from(again!.vector)).toEqual(Array.from(vectors.subarray(0, DIM)));
    });

    withIndex('adding an existing id replaces its vector and label', async (index, ref) => {
      const { ids } = await fill(index, ref, 20, 3, true);
      const vector = new Float32Array(DIM).fill(0.25);
      const batch: AddBatch = { ids: [ids[4]!], vectors: vector, labels: [2] };
      await index.add(batch);
      ref.add(batch);
      expect(await sizeOf(index)).toBe(20);
      const item = await index.get(ids[4]!);
      expect(Array.from(item!.vector)).toEqual(Array.from(vector));
      expect(item!.label).toBe(2);
      expect(item!.bucket).toBe(twoStage ? 2 : -1);
      const q = new Float32Array(DIM).fill(0.25);
      const result = await index.search(q, { k: 5, probe: twoStage ? CLASSES : undefined });
      expect(result.hits[0]!.id).toBe(ids[4]);
      expect(result.hits[0]!.distance).toBe(0);
      expectSameRanking(result, ref.search(q, { k: 5, probe: CLASSES }));
    });

    withIndex('remove deletes exactly one item', async (index, ref) => {
      const { ids } = await fill(index, ref, 30, 4, true);
      await index.remove(ids[7]!);
      ref.items.delete(ids[7]!);
      expect(await sizeOf(index)).toBe(29);
      expect(await index.has(ids[7]!)).toBe(false);
      expect(await index.get(ids[7]!)).toBeUndefined();
      const q = makeData(1, 99).vectors;
      expectSameRanking(
        await index.search(q, { k: 30, probe: CLASSES }),
        ref.search(q, { k: 30, probe: CLASSES }),
      );
      await expectRejects(index, () => index.remove(ids[7]!), 'NOT_FOUND', 'id');
    });

    withIndex('search matches the naive reference for every k and probe', async (index, ref) => {
      await fill(index, ref, 120, 5, false);
      const queries = makeData(6, 6, 3).vectors;
      const probes = twoStage ? [1, 2, 3, CLASSES] : [undefined];
      for (let q = 0; q < 6; q++) {
        const query = queries.slice(q * DIM, (q + 1) * DIM);
        for (const k of [1, 5, 17, 120, 500]) {
          for (const probe of probes) {
            const result = await index.search(query, { k, probe });
            expectSameRanking(result, ref.search(query, { k, probe }));
            if (!twoStage || probe === CLASSES) expect(result.scanned).toBe(120);
          }
        }
      }
    });

    withIndex('the default k is 10 and the default probe is 1', async (index, ref) => {
      await fill(index, ref, 80, 7, true);
      const query = makeData(1, 8).vectors;
      expectSameRanking(await index.search(query), ref.search(query, { k: 10, probe: 1 }));
    });

    withIndex('k larger than the index returns every candidate', async (index, ref) => {
      await fill(index, ref, 9, 9, true);
      const query = makeData(1, 10).vectors;
      const result = await index.search(query, { k: 1000, probe: twoStage ? CLASSES : undefined });
      expect(result.hits.length).toBe(9);
      expectSameRanking(result, ref.search(query, { k: 1000, probe: CLASSES }));
    });

    withIndex('ties are ranked deterministically', async (index, ref) => {
      // Five items at the same distance from the query, added in a scrambled id order.
      const ids: ItemId[] = ['e', 3, 'a', 1, 'c'];
      const vectors = new Float32Array(5 * DIM);
      for (let i = 0; i < 5; i++) vectors[i * DIM + (i % DIM)] = i % 2 === 0 ? 1 : -1;
      const batch: AddBatch = { ids, vectors, labels: [0, 0, 0, 0, 0] };
      await index.add(batch);
      ref.add(batch);
      const query = new Float32Array(DIM);
      for (const k of [2, 3, 5]) {
        const result = await index.search(query, { k });
        expect(result.hits.every((h) => h.distance === 1)).toBe(true);
        expectSameRanking(result, ref.search(query, { k }));
      }
    });

    withIndex('searchBatch equals one search per query', async (index, ref) => {
      await fill(index, ref, 100, 11, false);
      const queries = makeData(7, 12, 3).vectors;
      for (const options of [{ k: 4 }, { k: 25, probe: twoStage ? 2 : undefined }]) {
        const batch = await index.searchBatch(queries, options);
        expect(batch.length).toBe(7);
        for (let q = 0; q < 7; q++) {
          const single = await index.search(queries.slice(q * DIM, (q + 1) * DIM), options);
          expect(batch[q]!.hits).toEqual(single.hits);
          expect(batch[q]!.scanned).toBe(single.scanned);
        }
      }
      expect(await index.searchBatch(new Float32Array(0), { k: 3 })).toEqual([]);
    });

    const pool = capabilities.pool;
    if (pool !== undefined) {
      withIndex(
        'threaded search gives the single-threaded answers, ties included, across writes',
        async (index) => {
          const sync = index as VectorIndex;
          const rnd = random(31);
          // Small integer coordinates: many exact distance ties.
          const grid = (rows: number) =>
            Float32Array.from({ length: rows * DIM }, () => Math.round(rnd() * 4));
          const ids: ItemId[] = Array.from({ length: 600 }, (_, i) => (i % 3 === 0 ? `t${i}` : i));
          sync.add({ ids, vectors: grid(600) });
          const queries = grid(9);
          const check = async () => {
            for (const k of [1, 7, 50]) {
              for (const probe of twoStage ? [1, 2, CLASSES] : [undefined]) {
                const options = { k, probe };
                const single = Array.from({ length: 9 }, (_, q) =>
                  sync.search(queries.slice(q * DIM, (q + 1) * DIM), options),
                );
                expect(pool.searchBatch(sync, queries, options)).toEqual(single);
                expect(sync.searchBatch(queries, options)).toEqual(single);
                expect(await pool.search(sync, queries, options)).toEqual(single);
                expect(await pool.search(sync, queries.slice(0, DIM), options)).toEqual(single.slice(0, 1));
              }
            }
          };
          await check();
          // Removals move rows within a bucket; growth past 32 KiB moves a bucket into SIMD memory.
          for (let i = 0; i < 600; i += 4) sync.remove(ids[i]!);
          sync.add({ ids: ids.slice(0, 200), vectors: grid(200) });
          sync.add({ ids: Array.from({ length: 5000 }, (_, i) => `g${i}`), vectors: grid(5000) });
          await check();
          for (let i = 0; i < 5000; i += 2) sync.remove(`g${i}`);
          await check();
        },
      );

      withIndex(
        'refuses writes while an asynchronous threaded search runs, and takes them after',
        async (index) => {
          const sync = index as VectorIndex;
          const { vectors } = makeData(50, 41);
          sync.add({ ids: Array.from({ length: 50 }, (_, i) => i), vectors });
          const before = sync.search(vectors.slice(0, DIM), { k: 5 });
          const pending = pool.search(sync, vectors.slice(0, 2 * DIM), { k: 5 });
          for (const write of [
            () => sync.add({ ids: ['late'], vectors: vectors.slice(0, DIM) }),
            () => sync.remove(3),
          ]) {
            let caught: unknown;
            try {
              write();
            } catch (error) {
              caught = error;
            }
            expect((caught as AnchorageError).code).toBe('INDEX_BUSY');
          }
          expect((await pending)[0]).toEqual(before);
          expect(sync.size).toBe(50);
          sync.remove(3);
          expect(sync.size).toBe(49);
        },
      );
    }

    withIndex('a random sequence of adds, replaces and removes keeps search exact', async (index, ref) => {
      const rnd = random(13);
      const pool: ItemId[] = Array.from({ length: 40 }, (_, i) => (i % 3 === 0 ? i : `id${i}`));
      for (let step = 0; step < 60; step++) {
        if (rnd() < 0.35 && ref.items.size > 0) {
          const present = [...ref.items.keys()];
          const id = present[Math.floor(rnd() * present.length)]!;
          await index.remove(id);
          ref.items.delete(id);
        } else {
          const n = 1 + Math.floor(rnd() * 5);
          const chosen = new Set<ItemId>();
          while (chosen.size < n) chosen.add(pool[Math.floor(rnd() * pool.length)]!);
          const { vectors, labels } = makeData(n, 1000 + step);
          const batch: AddBatch =
            rnd() < 0.5 ? { ids: [...chosen], vectors, labels } : { ids: [...chosen], vectors };
          await index.add(batch);
          ref.add(batch);
        }
        expect(await sizeOf(index)).toBe(ref.items.size);
      }
      const stored = await snapshot(index);
      expect(stored.map((s) => keyOf(s.id))).toEqual([...ref.items.keys()].map(keyOf).sort());
      for (const item of stored) {
        const want = ref.items.get(item.id)!;
        expect(Array.from(item.vector)).toEqual(Array.from(want.vector));
        expect(item.label).toBe(want.label);
        expect(item.bucket).toBe(want.bucket);
      }
      const queries = makeData(4, 14, 3).vectors;
      for (let q = 0; q < 4; q++) {
        const query = queries.slice(q * DIM, (q + 1) * DIM);
        for (const probe of twoStage ? [1, 2, CLASSES] : [undefined]) {
          expectSameRanking(await index.search(query, { k: 50, probe }), ref.search(query, { k: 50, probe }));
        }
      }
    });

    withIndex('bad input is refused with a typed error and changes nothing', async (index, ref) => {
      await fill(index, ref, 12, 15, true);
      const v = (n: number) => makeData(n, 16).vectors;
      await expectRejects(
        index,
        () => index.add({ ids: ['x', 'y'], vectors: new Float32Array(DIM * 2 + 1) }),
        'DIMENSION_MISMATCH',
      );
      await expectRejects(index, () => index.add({ ids: ['x', 'y'], vectors: v(3) }), 'DIMENSION_MISMATCH');
      const nan = v(2);
      nan[DIM + 3] = Number.NaN;
      await expectRejects(index, () => index.add({ ids: ['x', 'y'], vectors: nan }), 'NON_FINITE', 'vectors');
      const inf = v(2);
      inf[1] = Number.POSITIVE_INFINITY;
      await expectRejects(index, () => index.add({ ids: ['x', 'y'], vectors: inf }), 'NON_FINITE', 'vectors');
      await expectRejects(
        index,
        () => index.add({ ids: ['x', 'x'], vectors: v(2) }),
        'INVALID_ARGUMENT',
        'ids',
      );
      await expectRejects(
        index,
        () => index.add({ ids: [1.5, 'y'], vectors: v(2) }),
        'INVALID_ARGUMENT',
        'ids',
      );
      await expectRejects(
        index,
        () => index.add({ ids: ['x', 'y'], vectors: v(2), labels: [0] }),
        'DIMENSION_MISMATCH',
        'labels',
      );
      await expectRejects(
        index,
        () => index.add({ ids: ['x', 'y'], vectors: v(2), labels: [0, -1] }),
        'LABEL_OUT_OF_RANGE',
        'labels',
      );
      await expectRejects(
        index,
        () => index.add({ ids: ['x', 'y'], vectors: v(2), labels: [0, 0.5] }),
        'LABEL_OUT_OF_RANGE',
        'labels',
      );
      if (twoStage) {
        await expectRejects(
          index,
          () => index.add({ ids: ['x', 'y'], vectors: v(2), labels: [0, CLASSES] }),
          'LABEL_OUT_OF_RANGE',
          'labels',
        );
      }
      await expectRejects(index, () => index.remove('nope'), 'NOT_FOUND', 'id');
      const q = v(1);
      await expectRejects(
        index,
        () => index.search(new Float32Array(DIM + 1)),
        'DIMENSION_MISMATCH',
        'query',
      );
      const badQuery = v(1);
      badQuery[0] = Number.NaN;
      await expectRejects(index, () => index.search(badQuery), 'NON_FINITE', 'query');
      await expectRejects(index, () => index.search(q, { k: 0 }), 'INVALID_ARGUMENT', 'k');
      await expectRejects(index, () => index.search(q, { k: -3 }), 'INVALID_ARGUMENT', 'k');
      await expectRejects(index, () => index.search(q, { k: 2.5 }), 'INVALID_ARGUMENT', 'k');
      await expectRejects(
        index,
        () => index.searchBatch(new Float32Array(DIM * 2 - 1)),
        'DIMENSION_MISMATCH',
        'queries',
      );
      await expectRejects(index, () => index.searchBatch(v(2), { k: 0 }), 'INVALID_ARGUMENT', 'k');
      if (twoStage) {
        await expectRejects(index, () => index.search(q, { probe: 0 }), 'INVALID_ARGUMENT', 'probe');
        await expectRejects(
          index,
          () => index.search(q, { probe: CLASSES + 1 }),
          'INVALID_ARGUMENT',
          'probe',
        );
        await expectRejects(
          index,
          () => index.searchBatch(v(2), { probe: 1.5 }),
          'INVALID_ARGUMENT',
          'probe',
        );
      }
      expect(await sizeOf(index)).toBe(12);
    });

    if (twoStage) {
      withIndex('unlabelled items go to the bucket of their nearest anchor', async (index, ref) => {
        const { ids } = await fill(index, ref, 50, 17, false);
        for (const id of ids) expect((await index.get(id))!.bucket).toBe(ref.items.get(id)!.bucket);
      });

      withIndex('stage 1 reports the probed anchors, nearest first', async (index, ref) => {
        await fill(index, ref, 50, 18, true);
        const query = makeData(1, 19).vectors;
        const result = await index.search(query, { k: 5, probe: 3 });
        const expected = [0, 1, 2, 3]
          .map((anchor) => ({ anchor, distance: sqDist(query, ref.anchors, anchor * DIM) }))
          .sort((a, b) => a.distance - b.distance || a.anchor - b.anchor)
          .slice(0, 3);
        expect(result.probed?.map((p) => p.anchor)).toEqual(expected.map((p) => p.anchor));
        result.probed!.forEach((p, i) => {
          expect(p.distance).toBeCloseTo(expected[i]!.distance, 4);
        });
        const probedSet = new Set(expected.map((p) => p.anchor));
        const inProbed = [...ref.items.values()].filter((item) => probedSet.has(item.bucket)).length;
        expect(result.scanned).toBe(inProbed);
      });
    }

    if (capabilities.fullRanking) {
      withIndex('full ranking appends the other buckets by anchor distance', async (index, ref) => {
        await fill(index, ref, 60, 20, false);
        const queries = makeData(3, 21, 3).vectors;
        for (let q = 0; q < 3; q++) {
          const query = queries.slice(q * DIM, (q + 1) * DIM);
          for (const probe of [1, 2, CLASSES]) {
            for (const k of [10, 60, 100]) {
              const options = { k, probe, fullRanking: true };
              expectSameRanking(await index.search(query, options), ref.search(query, options));
            }
          }
          const batch = await index.searchBatch(queries, { k: 60, probe: 1, fullRanking: true });
          expectSameRanking(batch[q]!, ref.search(query, { k: 60, probe: 1, fullRanking: true }));
        }
      });
    }

    const load = capabilities.load;
    if (load !== undefined) {
      withIndex('save and load round-trip ids, vectors, labels, buckets and search', async (index, ref) => {
        const saveable = index as VectorIndex;
        await fill(index, ref, 64, 22, true);
        await fill(index, ref, 16, 23, false);
        await index.remove(ref.items.keys().next().value!);
        ref.items.delete(ref.items.keys().next().value!);
        const dir = await mkdtemp(join(tmpdir(), 'anchorage-conformance-'));
        try {
          const path = join(dir, 'index.bin');
          await saveable.save(path);
          const loaded = await load(path);
          try {
            expect(loaded.dim).toBe(DIM);
            expect(await sizeOf(loaded)).toBe(await sizeOf(index));
            expect(await snapshot(loaded)).toEqual(await snapshot(index));
            const queries = makeData(3, 24, 3).vectors;
            for (const probe of twoStage ? [1, 2, CLASSES] : [undefined]) {
              const a = await index.searchBatch(queries, { k: 20, probe });
              const b = await loaded.searchBatch(queries, { k: 20, probe });
              expect(b).toEqual(a);
            }
            // Saving over an existing file replaces it.
            await saveable.save(path);
            expect(await snapshot(await load(path))).toEqual(await snapshot(index));
          } finally {
            await capabilities.dispose?.(loaded);
          }
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      });
    }
  });
}
