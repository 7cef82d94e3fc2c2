import { execFileSync } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { numpyPython } from '@anchorage/loss-core/testing';
import { describe, expect, it } from 'vitest';
import { encodeNpy, parseNpy, readNpy, writeNpy } from './npy.js';

const python = numpyPython();

describe('.npy', () => {
  it('round-trips every supported type and shape', () => {
    const cases = [
      [Float32Array.from([1.5, -2, 3.25, 0, 7, 8]), [2, 3]],
      [Float64Array.from([Math.PI]), [1]],
      [Int32Array.from([1, -2, 3]), [3]],
      [Uint8Array.from([0, 255]), [2, 1]],
      [Int8Array.from([-128, 127]), [2]],
      [new Float32Array(0), [0, 128]],
    ] as const;
    for (const [data, shape] of cases) {
      const bytes = encodeNpy(data, shape);
      expect((bytes.length - data.byteLength) % 64).toBe(0);
      const parsed = parseNpy(bytes);
      expect(parsed.shape).toEqual(shape);
      expect(parsed.data).toEqual(data);
    }
  });

  it('parses a header exactly as NumPy writes it, int64 included', () => {
    const header = "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }";
    const padded = `${header}${' '.repeat(128 - 10 - header.length - 1)}\n`;
    const bytes = new Uint8Array(128 + 24);
    bytes.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
    new DataView(bytes.buffer).setUint16(8, padded.length, true);
    bytes.set(new TextEncoder().encode(padded), 10);
    new BigInt64Array(bytes.buffer, 128, 3).set([5n, -1n, 9007199254740991n]);
    const parsed = parseNpy(bytes);
    expect(parsed.dtype).toBe('<i8');
    expect(Array.from(parsed.data)).toEqual([5, -1, 9007199254740991]);
  });

  it('refuses what it cannot read faithfully', () => {
    const good = encodeNpy(Float32Array.from([1, 2, 3, 4]), [2, 2]);
    const code = (bytes: Uint8Array) => {
      try {
        parseNpy(bytes);
        return 'accepted';
      } catch (error) {
        expect(error).toBeInstanceOf(AnchorageError);
        return (error as AnchorageError).code;
      }
    };
    expect(code(good.subarray(0, good.length - 1))).toBe('CORRUPT_FILE');
    expect(code(new TextEncoder().encode('1,2,3'))).toBe('CORRUPT_FILE');
    const swap = (from: string, to: string) => {
      const copy = Buffer.from(good);
      copy.write(to, copy.indexOf(from), 'latin1');
      return new Uint8Array(copy);
    };
    expect(code(swap("'fortran_order': False", "'fortran_order': True "))).toBe('UNSUPPORTED');
    expect(code(swap("'<f4'", "'>f4'"))).toBe('UNSUPPORTED');
    expect(() => encodeNpy(new Float32Array(5), [2, 2])).toThrow(AnchorageError);
  });

  it.runIf(python !== undefined)(
    'is read by NumPy and reads what NumPy writes (runs where python3 has numpy)',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'anchorage-npy-'));
      try {
        const ours = join(dir, 'ours.npy');
        await writeNpy(ours, Float32Array.from([0.5, 1, 2, 4, 8, 16]), [3, 2]);
        const theirs = join(dir, 'theirs.npy');
        const script = [
          'import numpy as np, sys',
          'a = np.load(sys.argv[1])',
          'assert a.dtype == np.float32 and a.shape == (3, 2), (a.dtype, a.shape)',
          'np.save(sys.argv[2], (a * 2).astype(np.float32))',
          'np.save(sys.argv[3], np.arange(4, dtype=np.int64))',
        ].join('\n');
        const labels = join(dir, 'labels.npy');
        execFileSync('python3', ['-c', script, ours, theirs, labels]);
        const back = await readNpy(theirs);
        expect(back.shape).toEqual([3, 2]);
        expect(Array.from(back.data)).toEqual([1, 2, 4, 8, 16, 32]);
        expect(Array.from((await readNpy(labels)).data)).toEqual([0, 1, 2, 3]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  );
});
