import * as zlib from 'node:zlib';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32, crc32Portable } from './crc32.js';

// zlib's own CRC-32 (Node >= 20.15) is the independent reference: the portable table code is ours.
const zlibCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
if (typeof zlibCrc32 !== 'function') throw new Error('these tests need node:zlib crc32 (Node >= 20.15)');
const reference = (bytes: Uint8Array, previous = 0): number =>
  // An empty input leaves the running value unchanged; no checksum of nothing can differ from that.
  bytes.length === 0 ? previous >>> 0 : zlibCrc32(bytes, previous) >>> 0;

function randomBytes(length: number, seed: number): Uint8Array {
  const bytes = new Uint8Array(length);
  let state = seed >>> 0 || 1;
  for (let i = 0; i < length; i++) {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    bytes[i] = state & 0xff;
  }
  return bytes;
}

describe('crc32', () => {
  it('gives the standard check value', () => {
    const bytes = new TextEncoder().encode('123456789');
    expect(zlibCrc32(bytes)).toBe(0xcbf43926);
    expect(crc32Portable(bytes)).toBe(0xcbf43926);
    expect(crc32(bytes)).toBe(0xcbf43926);
  });

  it('equals zlib on arbitrary bytes and running values, portable and native alike', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), fc.nat({ max: 0xffffffff }), (bytes, previous) => {
        const expected = reference(bytes, previous);
        expect(crc32Portable(bytes, previous)).toBe(expected);
        expect(crc32(bytes, previous)).toBe(expected);
        expect(crc32Portable(bytes)).toBe(reference(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('continues a running value: two pieces give zlib checksum of the whole', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1024 }), fc.nat({ max: 1024 }), (bytes, at) => {
        const split = Math.min(at, bytes.length);
        const whole = reference(bytes);
        const head = bytes.subarray(0, split);
        const tail = bytes.subarray(split);
        expect(crc32Portable(tail, crc32Portable(head))).toBe(whole);
        expect(crc32(tail, crc32(head))).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });

  it('handles empty input, over an empty buffer or at the end of a larger one', () => {
    const views = [new Uint8Array(0), new Uint8Array(new ArrayBuffer(0)), new Uint8Array(16).subarray(16)];
    for (const empty of views) {
      for (const previous of [0, 1, 0xcbf43926, 0xffffffff]) {
        expect(crc32Portable(empty, previous)).toBe(previous);
        expect(crc32(empty, previous)).toBe(previous);
      }
      expect(crc32(empty)).toBe(zlibCrc32(empty) >>> 0);
      expect(crc32Portable(empty)).toBe(0);
    }
  });

  it('equals zlib on large buffers, unaligned views included', () => {
    const big = randomBytes((8 << 20) + 13, 0x9e3779b9);
    const expected = reference(big);
    expect(crc32Portable(big)).toBe(expected);
    expect(crc32(big)).toBe(expected);
    const unaligned = big.subarray(3, big.length - 5);
    expect(crc32Portable(unaligned)).toBe(reference(unaligned));
    expect(crc32(unaligned, 0x12345678)).toBe(reference(unaligned, 0x12345678));
    // A file written in parts, as the index writer does, checksums like the whole file.
    const parts = [big.subarray(0, 40), big.subarray(40, 1 << 20), big.subarray(1 << 20)];
    expect(parts.reduce((crc, part) => crc32(part, crc), 0)).toBe(expected);
    expect(parts.reduce((crc, part) => crc32Portable(part, crc), 0)).toBe(expected);
  });
});
