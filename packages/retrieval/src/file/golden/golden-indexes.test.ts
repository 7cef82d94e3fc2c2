import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnchorIndex } from '../../anchor/index.js';
import { FlatIndex } from '../../flat/index.js';
import type { StoredItem } from '../../types.js';
import { decodeIndexFile, INDEX_FILE_VERSION } from '../index-file.js';
import { GOLDEN_INDEXES, type GoldenIndex, type GoldenItem } from './golden-indexes.js';

// The oldest format version that has golden files; every version from it on must keep loading.
const FIRST_VERSION = 1;
const REGENERATE = 'pnpm exec tsx --conditions=@anchorage/source src/file/golden/generate.ts';

const goldenPath = (golden: GoldenIndex, version: number) =>
  fileURLToPath(new URL(golden.file(version), import.meta.url));

/** The IEEE bit patterns of float32 values, so that -0 and 0 differ and NaN payloads would show. */
function bits(values: Float32Array | number[]): number[] {
  return [...new Uint32Array(Float32Array.from(values).buffer)];
}

function expectItem(actual: StoredItem, expected: GoldenItem, flat: boolean, where: string): void {
  expect(actual.id, where).toBe(expected.id);
  expect(typeof actual.id, where).toBe(typeof expected.id);
  expect(bits(actual.vector), where).toEqual(bits(expected.vector));
  expect(actual.label, where).toBe(expected.label);
  expect(actual.bucket, where).toBe(flat ? -1 : expected.bucket);
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) if (a[i] !== b[i]) return i;
  return length;
}

const versions = Array.from({ length: INDEX_FILE_VERSION - FIRST_VERSION + 1 }, (_, i) => FIRST_VERSION + i);

describe.each(GOLDEN_INDEXES.flatMap((golden) => versions.map((version) => ({ golden, version }))))(
  'golden $golden.kind file, format version $version',
  ({ golden, version }) => {
    const path = goldenPath(golden, version);
    const where = `golden/${golden.file(version)}`;

    it('decodes to exactly the items written down by hand', async () => {
      const bytes = await readFile(path);
      const file = decodeIndexFile(bytes);
      expect(new DataView(bytes.buffer, bytes.byteOffset).getUint32(8, true), `${where} header version`).toBe(
        version,
      );
      expect(file.dim).toBe(golden.dim);
      if (golden.anchors === undefined) expect(file.anchors).toBeUndefined();
      else expect(bits(file.anchors!)).toEqual(bits(golden.anchors.flat()));
      expect(file.ids).toEqual(golden.items.map((item) => item.id));
      golden.items.forEach((item, i) => {
        const at = `${where} item ${i}`;
        expect(typeof file.ids[i], at).toBe(typeof item.id);
        expect(bits(file.vectors.subarray(i * golden.dim, (i + 1) * golden.dim)), at).toEqual(
          bits(item.vector),
        );
        expect(file.labels[i], at).toBe(item.label ?? -1);
        expect(file.buckets[i], at).toBe(item.bucket);
      });
    });

    it('loads through the index classes with every id, vector, label and bucket', async () => {
      const loaders = golden.anchors === undefined ? [FlatIndex.load] : [AnchorIndex.load, FlatIndex.load];
      for (const load of loaders) {
        const index = await load(path);
        const flat = index instanceof FlatIndex;
        const items = [...index.items()];
        expect(items).toHaveLength(golden.items.length);
        for (const [i, item] of items.entries())
          expectItem(item, golden.items[i]!, flat, `${where} item ${i}`);
      }
    });
  },
);

describe('golden index files of the current format version', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchorage-golden-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(GOLDEN_INDEXES)("are reproduced byte for byte by today's writer ($kind)", async (golden) => {
    const name = golden.file(INDEX_FILE_VERSION);
    const committed = await readFile(goldenPath(golden, INDEX_FILE_VERSION)).catch(() => undefined);
    expect(
      committed,
      `golden/${name} is missing: INDEX_FILE_VERSION is ${INDEX_FILE_VERSION}; write its golden files with \`${REGENERATE}\` and keep the older ones`,
    ).toBeDefined();
    const written = join(dir, name);
    await golden.build().save(written);
    const bytes = await readFile(written);
    const at = firstDifference(bytes, committed!);
    expect(
      at === bytes.length && bytes.length === committed!.length,
      `today's writer no longer writes golden/${name} byte for byte (${bytes.length} bytes against ${committed!.length}, first difference at byte ${at}). ` +
        'The index file format changed: if that is deliberate, bump INDEX_FILE_VERSION, keep reading the older versions, ' +
        `and write the new version's golden files with \`${REGENERATE}\` (keeping the old ones); otherwise fix the writer.`,
    ).toBe(true);
  });
});
