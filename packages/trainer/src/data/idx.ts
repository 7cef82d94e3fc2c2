import { readFile } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { AnchorageError } from '@anchorage/loss-core';

/** Element types an IDX file can hold, by their type byte. */
export type IdxDtype = 'uint8' | 'int8' | 'int16' | 'int32' | 'float32' | 'float64';

/** A parsed IDX array: row-major `data` of `shape` (e.g. [N, 28, 28] for images, [N] for labels). */
export interface IdxArray {
  readonly dtype: IdxDtype;
  readonly shape: readonly number[];
  readonly data: Uint8Array | Int8Array | Int16Array | Int32Array | Float32Array | Float64Array;
}

const DTYPES: Record<number, { dtype: IdxDtype; bytes: number }> = {
  8: { dtype: 'uint8', bytes: 1 },
  9: { dtype: 'int8', bytes: 1 },
  11: { dtype: 'int16', bytes: 2 },
  12: { dtype: 'int32', bytes: 4 },
  13: { dtype: 'float32', bytes: 4 },
  14: { dtype: 'float64', bytes: 8 },
};

/** True when `bytes` start with the gzip magic number (1f 8b). */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function corrupt(message: string, source: string, value?: unknown): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', `${source}: ${message}`, {
    argument: 'file',
    value: value ?? source,
  });
}

/**
 * Parses an IDX file's bytes (gzipped or not, detected by the magic bytes, not the file name).
 * The header's magic, type byte and dimensions are validated against the byte count: a wrong,
 * truncated or oversized file throws `AnchorageError` with code `CORRUPT_FILE`.
 * @param source a name for error messages (usually the path).
 */
export function parseIdx(bytes: Uint8Array, source = 'IDX data'): IdxArray {
  let raw = bytes;
  if (isGzip(bytes)) {
    try {
      raw = gunzipSync(bytes);
    } catch (error) {
      throw new AnchorageError('CORRUPT_FILE', `${source}: gzip stream is damaged or truncated`, {
        argument: 'file',
        value: source,
        cause: error,
      });
    }
  }
  if (raw.length < 4) throw corrupt(`too short for an IDX header (${raw.length} bytes)`, source);
  if (raw[0] !== 0 || raw[1] !== 0) {
    throw corrupt(
      `not an IDX file: magic must start with 00 00, got ${raw[0]?.toString(16)} ${raw[1]?.toString(16)}`,
      source,
    );
  }
  const type = DTYPES[raw[2]!];
  if (type === undefined) throw corrupt(`unknown IDX element type 0x${raw[2]!.toString(16)}`, source);
  const rank = raw[3]!;
  if (rank === 0) throw corrupt('IDX file declares zero dimensions', source);
  const headerBytes = 4 + 4 * rank;
  if (raw.length < headerBytes)
    throw corrupt(`truncated header (${raw.length} of ${headerBytes} bytes)`, source);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const shape: number[] = [];
  let count = 1;
  for (let i = 0; i < rank; i++) {
    const size = view.getUint32(4 + 4 * i, false);
    shape.push(size);
    count *= size;
  }
  const expected = headerBytes + count * type.bytes;
  if (raw.length < expected) {
    throw corrupt(
      `truncated: header [${shape.join(', ')}] needs ${expected} bytes, file has ${raw.length}`,
      source,
      raw.length,
    );
  }
  if (raw.length > expected) {
    throw corrupt(`${raw.length - expected} unexpected bytes after the [${shape.join(', ')}] array`, source);
  }
  return { dtype: type.dtype, shape, data: decode(view, headerBytes, count, type.dtype) };
}

function decode(view: DataView, offset: number, count: number, dtype: IdxDtype): IdxArray['data'] {
  switch (dtype) {
    case 'uint8':
      // copy so the (possibly huge) decompressed buffer is not pinned by a view with an offset
      return new Uint8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int8':
      return new Int8Array(view.buffer.slice(view.byteOffset + offset, view.byteOffset + offset + count));
    case 'int16': {
      const out = new Int16Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i, false);
      return out;
    }
    case 'int32': {
      const out = new Int32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i, false);
      return out;
    }
    case 'float32': {
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i, false);
      return out;
    }
    case 'float64': {
      const out = new Float64Array(count);
      for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i, false);
      return out;
    }
  }
}

/** Reads and parses an IDX file (see {@link parseIdx}); a missing file throws `NOT_FOUND`. */
export async function readIdxFile(path: string): Promise<IdxArray> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (error) {
    throw new AnchorageError('NOT_FOUND', `cannot read IDX file ${path}`, {
      argument: 'path',
      value: path,
      cause: error,
    });
  }
  return parseIdx(bytes, path);
}

/** Serialises an array as IDX bytes (big-endian, as the format requires); used to write fixtures. */
export function encodeIdx(array: IdxArray): Uint8Array {
  const code = Number(Object.keys(DTYPES).find((k) => DTYPES[Number(k)]!.dtype === array.dtype));
  const bytesPer = DTYPES[code]!.bytes;
  const headerBytes = 4 + 4 * array.shape.length;
  const out = new Uint8Array(headerBytes + array.data.length * bytesPer);
  const view = new DataView(out.buffer);
  out[2] = code;
  out[3] = array.shape.length;
  for (const [i, size] of array.shape.entries()) view.setUint32(4 + 4 * i, size, false);
  for (let i = 0; i < array.data.length; i++) {
    const at = headerBytes + i * bytesPer;
    const v = array.data[i]!;
    switch (array.dtype) {
      case 'uint8':
        view.setUint8(at, v);
        break;
      case 'int8':
        view.setInt8(at, v);
        break;
      case 'int16':
        view.setInt16(at, v, false);
        break;
      case 'int32':
        view.setInt32(at, v, false);
        break;
      case 'float32':
        view.setFloat32(at, v, false);
        break;
      case 'float64':
        view.setFloat64(at, v, false);
        break;
    }
  }
  return out;
}
