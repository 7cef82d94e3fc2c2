import { readFile, rename, writeFile } from 'node:fs/promises';
import { AnchorageError } from '@anchorage/loss-core';
import { decodingFile } from '../validate.js';

/** Element types `.npy` files may hold here, by NumPy `descr`. */
export type NpyDtype = '<f4' | '<f8' | '<i4' | '<i8' | '|u1' | '|i1';

/** A parsed `.npy` array: C-order data and its shape. 64-bit integers come back as Float64Array. */
export interface NpyArray {
  dtype: NpyDtype;
  shape: number[];
  data: Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array;
}

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // "\x93NUMPY"
const SIZES: Record<NpyDtype, number> = { '<f4': 4, '<f8': 8, '<i4': 4, '<i8': 8, '|u1': 1, '|i1': 1 };

function bad(message: string, value?: unknown): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', message, { argument: 'npy', value });
}

/**
 * Parses `.npy` bytes (format versions 1–3, little-endian, C order). Refuses Fortran order,
 * big-endian or other dtypes, and a data size that does not match the shape.
 * @example
 * const { shape, data } = parseNpy(await readFile('embeddings.npy')); // shape [n, d], Float32Array
 */
export function parseNpy(bytes: Uint8Array): NpyArray {
  if (bytes.length < 10 || MAGIC.some((b, i) => bytes[i] !== b))
    throw bad('not a .npy file (wrong magic bytes)');
  const major = bytes[6]!;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw bad('.npy header truncated');
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    throw new AnchorageError('UNSUPPORTED_VERSION', `.npy format version ${major} is not supported`, {
      argument: 'npy',
      value: major,
    });
  }
  if (start + headerLength > bytes.length) throw bad('.npy header truncated');
  const header = new TextDecoder().decode(bytes.subarray(start, start + headerLength));
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw bad(`.npy header is not a NumPy array header: ${header.trim()}`);
  }
  const dtype = (descr === '<u1' ? '|u1' : descr === '<i1' ? '|i1' : descr) as NpyDtype;
  if (!(dtype in SIZES)) {
    throw new AnchorageError(
      'UNSUPPORTED',
      `.npy dtype ${descr} is not supported (use <f4, <f8, <i4, <i8, u1 or i1)`,
      {
        argument: 'npy',
        value: descr,
      },
    );
  }
  if (fortran === 'True') {
    throw new AnchorageError(
      'UNSUPPORTED',
      '.npy arrays in Fortran order are not supported; save with C order',
      {
        argument: 'npy',
      },
    );
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0)) throw bad(`.npy shape (${shapeText}) is invalid`);
  const count = shape.reduce((a, b) => a * b, 1);
  const dataStart = start + headerLength;
  const byteLength = count * SIZES[dtype];
  if (bytes.length - dataStart !== byteLength) {
    throw bad(
      `.npy data has ${bytes.length - dataStart} bytes, shape (${shape.join(', ')}) of ${descr} needs ${byteLength}`,
    );
  }
  // Copy into an aligned buffer: the header length makes the data offset arbitrary in general.
  const raw = bytes.buffer.slice(
    bytes.byteOffset + dataStart,
    bytes.byteOffset + dataStart + byteLength,
  ) as ArrayBuffer;
  let data: NpyArray['data'];
  switch (dtype) {
    case '<f4':
      data = new Float32Array(raw);
      break;
    case '<f8':
      data = new Float64Array(raw);
      break;
    case '<i4':
      data = new Int32Array(raw);
      break;
    case '<i8': {
      const wide = new BigInt64Array(raw);
      data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = Number(wide[i]!);
      break;
    }
    case '|u1':
      data = new Uint8Array(raw);
      break;
    case '|i1':
      data = new Int8Array(raw);
      break;
  }
  return { dtype, shape, data };
}

/**
 * Encodes a C-order array as `.npy` (format 1.0; the header is padded so data start on a
 * 64-byte boundary, as NumPy does). Float32Array → `<f4`, Float64Array → `<f8`, Int32Array → `<i4`,
 * Uint8Array → `|u1`, Int8Array → `|i1`.
 * @example
 * await writeFile('embeddings.npy', encodeNpy(vectors, [n, dim]));
 */
export function encodeNpy(data: NpyArray['data'], shape: readonly number[]): Uint8Array {
  const dtype: NpyDtype =
    data instanceof Float32Array
      ? '<f4'
      : data instanceof Float64Array
        ? '<f8'
        : data instanceof Int32Array
          ? '<i4'
          : data instanceof Int8Array
            ? '|i1'
            : '|u1';
  const count = shape.reduce((a, b) => a * b, 1);
  if (shape.some((d) => !Number.isSafeInteger(d) || d < 0) || count !== data.length) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `shape (${shape.join(', ')}) does not hold ${data.length} elements`,
      {
        argument: 'shape',
        value: shape,
      },
    );
  }
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let header = `{'descr': '${dtype}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const total = 10 + header.length + 1;
  header += ' '.repeat((64 - (total % 64)) % 64);
  header += '\n';
  const headerBytes = new TextEncoder().encode(header);
  const out = new Uint8Array(10 + headerBytes.length + data.byteLength);
  out.set(MAGIC, 0);
  out[6] = 1;
  out[7] = 0;
  new DataView(out.buffer).setUint16(8, headerBytes.length, true);
  out.set(headerBytes, 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), 10 + headerBytes.length);
  return out;
}

/** Reads a `.npy` file (see `parseNpy`). */
export async function readNpy(path: string): Promise<NpyArray> {
  const bytes = await readFile(path);
  return decodingFile(path, () => parseNpy(bytes));
}

/** Writes a `.npy` file (see `encodeNpy`) through a temporary file and a rename. */
export async function writeNpy(
  path: string,
  data: NpyArray['data'],
  shape: readonly number[],
): Promise<void> {
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  await writeFile(temporary, encodeNpy(data, shape));
  await rename(temporary, path);
}
