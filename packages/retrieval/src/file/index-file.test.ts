import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AnchorIndex } from '../anchor/index.js';
import { FlatIndex } from '../flat/index.js';
import { crc32Portable } from './crc32.js';
import {
  decodeIndexFile,
  encodeIndexFile,
  INDEX_FILE_VERSION,
  type IndexFileContents,
  readIndexFile,
  writeIndexFile,
} from './index-file.js';

const dim = 3;
const contents: IndexFileContents = {
  dim,
  anchors: new Float32Array([1, 0, 0, 0, 1, 0]),
  ids: ['α-β', 7, '', -3, 'x'.repeat(300)],
  vectors: Float32Array.from({ length: 5 * dim }, (_, i) => i * 0.5 - 2),
  labels: new Int32Array([0, -1, 1, -1, 1]),
  buckets: new Int32Array([0, 1, 1, 0, 1]),
};

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function refusal(action: () => unknown): AnchorageError {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(AnchorageError);
    return error as AnchorageError;
  }
  throw new Error('expected a refusal');
}

describe('index file encoding', () => {
  const bytes = concat(encodeIndexFile(contents));

  it('round-trips every field, string and number ids included', () => {
    const decoded = decodeIndexFile(bytes);
    expect(decoded).toEqual(contents);
    expect(typeof decoded.ids[1]).toBe('number');
    expect(decoded.ids[0]).toBe('α-β');
  });

  it('has the documented layout', () => {
    expect(new TextDecoder().decode(bytes.subarray(0, 7))).toBe('ANCHIDX');
    const view = new DataView(bytes.buffer);
    expect(view.getUint32(8, true)).toBe(INDEX_FILE_VERSION);
    expect(view.getUint32(16, true)).toBe(dim);
    expect(view.getUint32(20, true)).toBe(2);
    expect(view.getUint32(24, true)).toBe(5);
    expect(view.getUint32(bytes.length - 4, true)).toBe(crc32Portable(bytes.subarray(0, bytes.length - 4)));
    // header + anchors + vectors + labels + buckets + ids + crc
    const idBytes = 5 + 5 + 9 + 5 + 9 + 5 + 300; // "α-β" is 5 UTF-8 bytes
    expect(bytes.length).toBe(40 + 4 * 6 + 4 * 15 + 20 + 20 + idBytes + 4);
  });

  it('decodes from an unaligned view', () => {
    const shifted = new Uint8Array(bytes.length + 1);
    shifted.set(bytes, 1);
    expect(decodeIndexFile(shifted.subarray(1))).toEqual(contents);
  });

  it('refuses a flipped bit at every offset', () => {
    for (let offset = 0; offset < bytes.length; offset++) {
      for (const bit of [0x01, 0x80]) {
        const damaged = bytes.slice();
        damaged[offset]! ^= bit;
        const error = refusal(() => decodeIndexFile(damaged));
        expect(['CORRUPT_FILE', 'UNSUPPORTED_VERSION']).toContain(error.code);
      }
    }
  });

  it('refuses a file truncated at every length, and one with trailing bytes', () => {
    for (let length = 0; length < bytes.length; length++) {
      expect(refusal(() => decodeIndexFile(bytes.subarray(0, length))).code).toBe('CORRUPT_FILE');
    }
    expect(refusal(() => decodeIndexFile(concat([bytes, new Uint8Array(4)]))).code).toBe('CORRUPT_FILE');
  });

  it('refuses wrong magic bytes with a clear message', () => {
    const error = refusal(() => decodeIndexFile(new TextEncoder().encode('{"not": "an index"}')));
    expect(error.code).toBe('CORRUPT_FILE');
    expect(error.message).toMatch(/wrong magic/);
  });

  it('refuses a newer format version (with a valid checksum) as UNSUPPORTED_VERSION', () => {
    const newer = bytes.slice();
    const view = new DataView(newer.buffer);
    view.setUint32(8, INDEX_FILE_VERSION + 1, true);
    view.setUint32(newer.length - 4, crc32Portable(newer.subarray(0, newer.length - 4)), true);
    const error = refusal(() => decodeIndexFile(newer));
    expect(error.code).toBe('UNSUPPORTED_VERSION');
    expect(error.message).toMatch(/newer/);
  });

  it('refuses inconsistent contents even with a valid checksum', () => {
    const resealed = (edit: (c: IndexFileContents) => IndexFileContents) =>
      concat(encodeIndexFile(edit(contents)));
    const badBucket = resealed((c) => ({ ...c, buckets: new Int32Array([0, 1, 2, 0, 1]) }));
    expect(refusal(() => decodeIndexFile(badBucket)).message).toMatch(/bucket 2/);
    const duplicate = resealed((c) => ({ ...c, ids: ['a', 'b', 'a', 1, 2] }));
    expect(refusal(() => decodeIndexFile(duplicate)).message).toMatch(/twice/);
  });
});

describe('index files on disk', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'anchorage-index-file-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('writes atomically, leaving no temporary file, and reads back', async () => {
    const path = join(dir, 'a.anchorage');
    await writeIndexFile(path, contents);
    await writeIndexFile(path, { ...contents, ids: ['a', 'b', 'c', 'd', 'e'] });
    expect(await readdir(dir)).toEqual(['a.anchorage']);
    expect((await readIndexFile(path)).ids).toEqual(['a', 'b', 'c', 'd', 'e']);
  });

  it('refuses truncated and damaged files through both index classes, naming the path', async () => {
    const index = new AnchorIndex({ dim, anchors: contents.anchors! });
    index.add({ ids: contents.ids, vectors: contents.vectors });
    const path = join(dir, 'b.anchorage');
    await index.save(path);
    const bytes = await readFile(path);
    for (const length of [0, 7, 39, 41, bytes.length - 5, bytes.length - 1]) {
      await writeFile(path, bytes.subarray(0, length));
      for (const load of [AnchorIndex.load, FlatIndex.load]) {
        const error = await load(path).catch((e: unknown) => e);
        expect(error).toBeInstanceOf(AnchorageError);
        expect((error as AnchorageError).code).toBe('CORRUPT_FILE');
        expect((error as AnchorageError).message).toContain(path);
      }
    }
    const missing = await AnchorIndex.load(join(dir, 'missing')).catch((e: unknown) => e);
    expect((missing as AnchorageError).code).toBe('NOT_FOUND');
  });

  it('loads an AnchorIndex file as a FlatIndex, but not the reverse', async () => {
    const anchor = new AnchorIndex({ dim, anchors: contents.anchors! });
    anchor.add({ ids: contents.ids, vectors: contents.vectors });
    const path = join(dir, 'c.anchorage');
    await anchor.save(path);
    const flat = await FlatIndex.load(path);
    expect(flat.size).toBe(5);
    expect([...flat.items()].map((item) => item.id)).toEqual(contents.ids);
    await flat.save(path);
    const error = await AnchorIndex.load(path).catch((e: unknown) => e);
    expect((error as AnchorageError).code).toBe('UNSUPPORTED');
  });
});

describe('index file contents after the checksum', () => {
  const resealed = (edit: (c: IndexFileContents) => IndexFileContents) =>
    concat(encodeIndexFile(edit(contents)));

  it('refuses a NaN or infinite vector or anchor, naming the item and position', () => {
    for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
      const vectors = contents.vectors.slice();
      vectors[2 * dim + 1] = bad;
      const error = refusal(() => decodeIndexFile(resealed((c) => ({ ...c, vectors }))));
      expect(error.code).toBe('CORRUPT_FILE');
      expect(error.message).toMatch(/item 2 has a non-finite value .* at position 1/);
      const anchors = contents.anchors!.slice();
      anchors[4] = bad;
      expect(refusal(() => decodeIndexFile(resealed((c) => ({ ...c, anchors })))).message).toMatch(
        /anchor 1 has a non-finite value/,
      );
    }
    // the largest finite float32 and a subnormal are fine
    const vectors = contents.vectors.slice();
    vectors[0] = 3.4028234663852886e38;
    vectors[1] = 1e-45;
    expect(decodeIndexFile(resealed((c) => ({ ...c, vectors }))).vectors[0]).toBe(3.4028234663852886e38);
  });

  it('refuses a labelled item outside its label bucket, and buckets in a FlatIndex file', () => {
    const wrong = resealed((c) => ({ ...c, buckets: new Int32Array([1, 1, 1, 0, 1]) }));
    expect(refusal(() => decodeIndexFile(wrong)).message).toMatch(/item 0 has label 0 but sits in bucket 1/);
    // unlabelled items may sit in any bucket
    expect(
      decodeIndexFile(resealed((c) => ({ ...c, buckets: new Int32Array([0, 0, 1, 1, 1]) }))).ids,
    ).toHaveLength(5);
    const flat = (buckets: Int32Array) => resealed((c) => ({ ...c, anchors: undefined, buckets }));
    expect(refusal(() => decodeIndexFile(flat(new Int32Array([-1, -1, 0, -1, -1])))).message).toMatch(
      /bucket 0 of item 2/,
    );
    expect(decodeIndexFile(flat(new Int32Array(5).fill(-1))).anchors).toBeUndefined();
    const negative = resealed((c) => ({ ...c, labels: new Int32Array([0, -2, 1, -1, 1]) }));
    expect(refusal(() => decodeIndexFile(negative)).message).toMatch(/label -2 of item 1/);
  });

  it('keeps ids that start with U+FEFF (a decoder drops a leading byte-order mark by default)', () => {
    const ids = ['\ufeff', '\ufeffa', '', 'a\ufeff', '\ufeff\ufeff'];
    expect(decodeIndexFile(resealed((c) => ({ ...c, ids }))).ids).toEqual(ids);
  });

  it('refuses to write an id that UTF-8 cannot hold instead of merging it into U+FFFD', () => {
    const error = refusal(() => encodeIndexFile({ ...contents, ids: ['a\ud800', 7, '', -3, 'a\udc00'] }));
    expect(error.code).toBe('INVALID_ARGUMENT');
  });
});
