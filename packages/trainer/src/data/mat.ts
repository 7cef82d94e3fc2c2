import { inflateSync } from 'node:zlib';
import { AnchorageError } from '@anchorage/loss-core';

/** A numeric array read from a MAT-file: dims as MATLAB gives them, data in column-major order. */
export interface MatArray {
  readonly name: string;
  /** MATLAB class: `double`, `single`, `int8`, `uint8`, `int16`, `uint16`, `int32`, `uint32`. */
  readonly className: string;
  readonly dims: readonly number[];
  /** Real part, column-major (the first dimension varies fastest), in the stored element type. */
  readonly data: ArrayLike<number>;
}

// data element types (MAT-file format, level 5)
const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;

const CLASS_NAMES: Record<number, string> = {
  6: 'double',
  7: 'single',
  8: 'int8',
  9: 'uint8',
  10: 'int16',
  11: 'uint16',
  12: 'int32',
  13: 'uint32',
};

function corrupt(path: string, message: string): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', `${path}: ${message}`, { argument: 'file', value: path });
}

/** The numbers of a numeric data element, typed by its element type (copied: alignment-free). */
function numbers(path: string, type: number, bytes: Uint8Array): ArrayLike<number> {
  const copy = bytes.slice();
  const buffer = copy.buffer;
  switch (type) {
    case MI.INT8:
      return new Int8Array(buffer);
    case MI.UINT8:
      return copy;
    case MI.INT16:
      return new Int16Array(buffer, 0, copy.length >> 1);
    case MI.UINT16:
      return new Uint16Array(buffer, 0, copy.length >> 1);
    case MI.INT32:
      return new Int32Array(buffer, 0, copy.length >> 2);
    case MI.UINT32:
      return new Uint32Array(buffer, 0, copy.length >> 2);
    case MI.SINGLE:
      return new Float32Array(buffer, 0, copy.length >> 2);
    case MI.DOUBLE:
      return new Float64Array(buffer, 0, copy.length >> 3);
    default:
      throw corrupt(path, `unsupported numeric element type ${type}`);
  }
}

interface Element {
  type: number;
  data: Uint8Array;
  /** Offset of the next element. */
  next: number;
}

/** Reads the data element at `offset` (either tag form), or throws when it runs past the end. */
function element(path: string, bytes: Uint8Array, offset: number): Element {
  if (offset + 8 > bytes.length)
    throw corrupt(path, `a data element tag at byte ${offset} runs past the end`);
  const view = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  const first = view.getUint32(0, true);
  if (first >>> 16 !== 0) {
    // small data element: type and size packed into the first 4 bytes, data in the next 4
    const size = first >>> 16;
    if (size > 4) throw corrupt(path, `a small data element at byte ${offset} claims ${size} bytes`);
    return { type: first & 0xffff, data: bytes.subarray(offset + 4, offset + 4 + size), next: offset + 8 };
  }
  const size = view.getUint32(4, true);
  const start = offset + 8;
  if (start + size > bytes.length) {
    throw corrupt(
      path,
      `a data element at byte ${offset} claims ${size} bytes but the file ends first (truncated?)`,
    );
  }
  // compressed elements are not padded; every other element ends on an 8-byte boundary
  const padded = first === MI.COMPRESSED ? size : Math.ceil(size / 8) * 8;
  return { type: first, data: bytes.subarray(start, start + size), next: start + padded };
}

/** A miMATRIX element's numeric array, or undefined for cells, structs, sparse and other classes. */
function matrix(path: string, data: Uint8Array): MatArray | undefined {
  const flags = element(path, data, 0);
  const flagWord = new DataView(flags.data.buffer, flags.data.byteOffset, 8).getUint32(0, true);
  const className = CLASS_NAMES[flagWord & 0xff];
  const dimsElement = element(path, data, flags.next);
  const dims = Array.from(numbers(path, dimsElement.type, dimsElement.data));
  const nameElement = element(path, data, dimsElement.next);
  const name = new TextDecoder().decode(nameElement.data);
  if (className === undefined) return undefined;
  const real = element(path, data, nameElement.next);
  const values = numbers(path, real.type, real.data);
  const count = dims.reduce((a, b) => a * b, 1);
  if (values.length !== count) {
    throw corrupt(path, `variable "${name}" holds ${values.length} numbers for dims [${dims.join(', ')}]`);
  }
  return { name, className, dims, data: values };
}

/**
 * Reads the numeric arrays of a MATLAB level-5 MAT-file (little-endian), uncompressed
 * (`miMATRIX`) or compressed (`miCOMPRESSED`, zlib) elements alike; other variables (cells,
 * structs, sparse) are skipped. Throws `AnchorageError` `CORRUPT_FILE` naming `path` for a file
 * that is not one (a v7.3 HDF5 file included) or is truncated.
 */
export function readMat(bytes: Uint8Array, path = 'MAT-file'): Map<string, MatArray> {
  if (bytes.length < 128) throw corrupt(path, 'shorter than a MAT-file header (128 bytes)');
  const header = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (!header.startsWith('MATLAB 5.0 MAT-file')) {
    throw corrupt(path, 'not a MATLAB 5.0 MAT-file (a v7.3 file is HDF5: save it with -v7 instead)');
  }
  const endian = String.fromCharCode(bytes[126]!, bytes[127]!);
  if (endian !== 'IM') throw corrupt(path, `big-endian MAT-files are not supported (indicator "${endian}")`);
  const out = new Map<string, MatArray>();
  let offset = 128;
  while (offset < bytes.length) {
    const e = element(path, bytes, offset);
    offset = e.next;
    let type = e.type;
    let data = e.data;
    if (type === MI.COMPRESSED) {
      let inflated: Buffer;
      try {
        inflated = inflateSync(data);
      } catch (cause) {
        throw new AnchorageError(
          'CORRUPT_FILE',
          `${path}: a compressed element does not inflate (truncated?)`,
          {
            argument: 'file',
            value: path,
            cause,
          },
        );
      }
      const inner = element(
        path,
        new Uint8Array(inflated.buffer, inflated.byteOffset, inflated.byteLength),
        0,
      );
      type = inner.type;
      data = inner.data;
    }
    if (type !== MI.MATRIX) continue;
    const array = matrix(path, data);
    if (array) out.set(array.name, array);
  }
  return out;
}
