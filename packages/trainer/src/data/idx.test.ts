import { gzipSync } from 'node:zlib';
import { AnchorageError } from '@anchorage/loss-core';
import { describe, expect, it } from 'vitest';
import { encodeIdx, type IdxArray, isGzip, parseIdx } from './idx';

function images(): IdxArray {
  return { dtype: 'uint8', shape: [3, 2, 2], data: Uint8Array.from({ length: 12 }, (_, i) => i * 20) };
}

function expectCorrupt(bytes: Uint8Array, message: RegExp): void {
  let error: unknown;
  try {
    parseIdx(bytes, 'fixture');
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(AnchorageError);
  expect((error as AnchorageError).code).toBe('CORRUPT_FILE');
  expect((error as AnchorageError).message).toMatch(message);
}

describe('parseIdx', () => {
  it('reads a hand-built uint8 file byte for byte', () => {
    // magic 00 00 08 01, one dimension of size 3, then the three labels
    const bytes = Uint8Array.from([0, 0, 8, 1, 0, 0, 0, 3, 7, 0, 9]);
    const parsed = parseIdx(bytes);
    expect(parsed.dtype).toBe('uint8');
    expect(parsed.shape).toEqual([3]);
    expect(Array.from(parsed.data)).toEqual([7, 0, 9]);
  });

  it('reads the same array gzipped or not (detected by magic bytes)', () => {
    const plain = encodeIdx(images());
    const gz = gzipSync(plain);
    expect(isGzip(plain)).toBe(false);
    expect(isGzip(gz)).toBe(true);
    for (const bytes of [plain, gz]) {
      const parsed = parseIdx(bytes);
      expect(parsed.shape).toEqual([3, 2, 2]);
      expect(Array.from(parsed.data)).toEqual(Array.from(images().data));
    }
  });

  it('decodes big-endian multi-byte types', () => {
    for (const dtype of ['int16', 'int32', 'float32', 'float64', 'int8'] as const) {
      const data =
        dtype === 'float32'
          ? Float32Array.from([1.5, -2.25])
          : dtype === 'float64'
            ? Float64Array.from([1e-300, -3])
            : dtype === 'int8'
              ? Int8Array.from([-5, 100])
              : dtype === 'int16'
                ? Int16Array.from([-300, 1234])
                : Int32Array.from([-70000, 123456789]);
      const parsed = parseIdx(encodeIdx({ dtype, shape: [2], data }));
      expect(parsed.dtype).toBe(dtype);
      expect(Array.from(parsed.data)).toEqual(Array.from(data));
    }
    // 0x0C int32, value 258 big-endian = 00 00 01 02
    expect(Array.from(parseIdx(Uint8Array.from([0, 0, 0x0c, 1, 0, 0, 0, 1, 0, 0, 1, 2])).data)).toEqual([
      258,
    ]);
  });

  it('refuses wrong magic, unknown type and zero rank', () => {
    const good = encodeIdx(images());
    const badMagic = good.slice();
    badMagic[0] = 0x50;
    expectCorrupt(badMagic, /magic/);
    const badType = good.slice();
    badType[2] = 0x07;
    expectCorrupt(badType, /element type 0x7/);
    expectCorrupt(Uint8Array.from([0, 0, 8, 0]), /zero dimensions/);
    expectCorrupt(Uint8Array.from([0, 0]), /too short/);
  });

  it('refuses truncated files, in the header or the data, plain or gzipped', () => {
    const good = encodeIdx(images());
    expectCorrupt(good.subarray(0, 10), /truncated header/);
    expectCorrupt(
      good.subarray(0, good.length - 1),
      /truncated: header \[3, 2, 2\] needs 28 bytes, file has 27/,
    );
    expectCorrupt(gzipSync(good.subarray(0, good.length - 5)), /truncated/);
    const gz = gzipSync(good);
    expectCorrupt(gz.subarray(0, gz.length - 8), /gzip stream is damaged or truncated/);
  });

  it('refuses trailing bytes', () => {
    const good = encodeIdx(images());
    const longer = new Uint8Array(good.length + 3);
    longer.set(good);
    expectCorrupt(longer, /3 unexpected bytes/);
  });
});
