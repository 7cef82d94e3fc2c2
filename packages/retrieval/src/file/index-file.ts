import { open, readFile, rename, unlink } from 'node:fs/promises';
import { endianness } from 'node:os';
import { dirname } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { ItemStore } from '../item-store.js';
import type { ItemId } from '../types.js';
import { decodingFile, isWellFormedText } from '../validate.js';
import { crc32 } from './crc32.js';
import { systemReason } from './system-reason.js';

/** The 8 bytes every index file starts with. */
export const INDEX_FILE_MAGIC = new Uint8Array([0x41, 0x4e, 0x43, 0x48, 0x49, 0x44, 0x58, 0x00]); // "ANCHIDX\0"
/** The format version this build writes and the newest it reads. */
export const INDEX_FILE_VERSION = 1;
const HEADER_BYTES = 40;
const FLAG_ANCHORS = 1;
const ID_STRING = 0;
const ID_NUMBER = 1;

/** What an index file holds. Items are in insertion order; `labels` uses -1 for "no label". */
export interface IndexFileContents {
  dim: number;
  /** C×dim anchors of an AnchorIndex; undefined for a FlatIndex file. */
  anchors: Float32Array | undefined;
  ids: ItemId[];
  /** n×dim row-major. */
  vectors: Float32Array;
  labels: Int32Array;
  /** Bucket (anchor) of each item; -1 in a FlatIndex file. */
  buckets: Int32Array;
}

function corrupt(message: string, value?: unknown): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', message, { argument: 'path', value });
}

function bytesOf(array: Float32Array | Int32Array): Uint8Array {
  return new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
}

function encodeIds(ids: readonly ItemId[]): Uint8Array {
  const encoder = new TextEncoder();
  const parts: Uint8Array[] = [];
  let total = 0;
  for (const id of ids) {
    if (typeof id === 'number') {
      const part = new Uint8Array(9);
      part[0] = ID_NUMBER;
      new DataView(part.buffer).setFloat64(1, id, true);
      parts.push(part);
      total += 9;
    } else {
      // TextEncoder would write a lone surrogate as U+FFFD, merging distinct ids
      if (!isWellFormedText(id)) {
        throw new AnchorageError('INVALID_ARGUMENT', `id ${JSON.stringify(id)} is not well-formed Unicode`, {
          argument: 'ids',
          value: id,
        });
      }
      const utf8 = encoder.encode(id);
      const part = new Uint8Array(5 + utf8.length);
      part[0] = ID_STRING;
      new DataView(part.buffer).setUint32(1, utf8.length, true);
      part.set(utf8, 5);
      parts.push(part);
      total += part.length;
    }
  }
  const out = new Uint8Array(total);
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

/**
 * Serialises contents as the parts of a version-1 index file, the last being the CRC-32 of all
 * the others. Little-endian throughout:
 * header (40 bytes) = magic[8] "ANCHIDX\0", u32 version, u32 flags (bit 0: anchors present),
 * u32 dim, u32 C, u32 n, u32 idBytes, u64 reserved (0); then anchors f32[C·dim], vectors f32[n·dim],
 * labels i32[n], buckets i32[n], ids (per id: u8 tag, 0 = string then u32 byte length + UTF-8,
 * 1 = number then f64), and u32 CRC-32 of everything before it.
 */
export function encodeIndexFile(contents: IndexFileContents): Uint8Array[] {
  if (endianness() !== 'LE')
    throw new AnchorageError('UNSUPPORTED', 'index files need a little-endian machine');
  const { dim, anchors, ids, vectors, labels, buckets } = contents;
  const classes = anchors === undefined ? 0 : anchors.length / dim;
  const idBytes = encodeIds(ids);
  const header = new Uint8Array(HEADER_BYTES);
  header.set(INDEX_FILE_MAGIC, 0);
  const view = new DataView(header.buffer);
  view.setUint32(8, INDEX_FILE_VERSION, true);
  view.setUint32(12, anchors === undefined ? 0 : FLAG_ANCHORS, true);
  view.setUint32(16, dim, true);
  view.setUint32(20, classes, true);
  view.setUint32(24, ids.length, true);
  view.setUint32(28, idBytes.length, true);
  const parts = [
    header,
    bytesOf(anchors ?? new Float32Array(0)),
    bytesOf(vectors),
    bytesOf(labels),
    bytesOf(buckets),
    idBytes,
  ];
  let crc = 0;
  for (const part of parts) crc = crc32(part, crc);
  const trailer = new Uint8Array(4);
  new DataView(trailer.buffer).setUint32(0, crc, true);
  parts.push(trailer);
  return parts;
}

/**
 * Parses and verifies a whole index file. Refuses (AnchorageError `CORRUPT_FILE`) a wrong magic,
 * a size that does not match the header (truncated or padded), a checksum mismatch or inconsistent
 * contents, and (`UNSUPPORTED_VERSION`) a newer format version. Nothing is returned unless all of
 * the file checks out.
 */
export function decodeIndexFile(bytes: Uint8Array): IndexFileContents {
  if (endianness() !== 'LE')
    throw new AnchorageError('UNSUPPORTED', 'index files need a little-endian machine');
  if (bytes.length < 8 || INDEX_FILE_MAGIC.some((b, i) => bytes[i] !== b)) {
    throw corrupt('not an anchorage index file (wrong magic bytes)');
  }
  if (bytes.length < HEADER_BYTES + 4)
    throw corrupt(`index file truncated: ${bytes.length} bytes`, bytes.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint32(8, true);
  const flags = view.getUint32(12, true);
  const dim = view.getUint32(16, true);
  const classes = view.getUint32(20, true);
  const n = view.getUint32(24, true);
  const idByteLength = view.getUint32(28, true);
  const expected = HEADER_BYTES + 4 * classes * dim + 4 * n * dim + 8 * n + idByteLength + 4;
  // The size and checksum are checked before the version: a damaged version field is corruption.
  if (bytes.length !== expected) {
    throw corrupt(
      `index file ${bytes.length < expected ? 'truncated' : 'has trailing bytes'}: ${bytes.length} bytes, header says ${expected}`,
      bytes.length,
    );
  }
  const stored = view.getUint32(bytes.length - 4, true);
  const actual = crc32(bytes.subarray(0, bytes.length - 4));
  if (stored !== actual) {
    throw corrupt(
      `index file checksum mismatch (stored ${stored.toString(16)}, computed ${actual.toString(16)})`,
    );
  }
  if (version > INDEX_FILE_VERSION) {
    throw new AnchorageError(
      'UNSUPPORTED_VERSION',
      `index file format version ${version} is newer than this library reads (${INDEX_FILE_VERSION}); upgrade @anchorage/retrieval`,
      { argument: 'path', value: version },
    );
  }
  if (version < 1) throw corrupt(`index file format version ${version} does not exist`, version);
  const hasAnchors = (flags & FLAG_ANCHORS) !== 0;
  if (dim < 1 || (flags & ~FLAG_ANCHORS) !== 0 || hasAnchors !== classes > 0) {
    throw corrupt(`index file header is inconsistent (dim ${dim}, flags ${flags}, classes ${classes})`);
  }
  let offset = HEADER_BYTES;
  const take = (length: number): ArrayBuffer => {
    // Copies into a fresh, aligned buffer: the caller's bytes may sit at any offset.
    const start = bytes.byteOffset + offset;
    offset += length;
    return bytes.buffer.slice(start, start + length) as ArrayBuffer;
  };
  const anchors = hasAnchors ? new Float32Array(take(4 * classes * dim)) : undefined;
  const vectors = new Float32Array(take(4 * n * dim));
  const labels = new Int32Array(take(4 * n));
  const buckets = new Int32Array(take(4 * n));
  const ids = decodeIds(bytes.subarray(offset, offset + idByteLength), n);
  if (anchors) checkFinite(anchors, dim, 'anchor');
  checkFinite(vectors, dim, 'item');
  checkAssignments(labels, buckets, hasAnchors ? classes : 0);
  return { dim, anchors, ids, vectors, labels, buckets };
}

const FLOAT32_EXPONENT = 0x7f800000;

/**
 * Refuses a NaN or infinite value (a checksum only proves the bytes are as written, not that the
 * writer was sane; a NaN item would never be returned by a search). One pass over the raw bits:
 * an all-ones exponent is exactly the non-finite float32 values.
 */
function checkFinite(values: Float32Array, dim: number, what: 'anchor' | 'item'): void {
  const bits = new Int32Array(values.buffer, values.byteOffset, values.length);
  for (let i = 0; i < bits.length; i++) {
    if ((bits[i]! & FLOAT32_EXPONENT) === FLOAT32_EXPONENT) {
      throw corrupt(
        `${what} ${Math.floor(i / dim)} has a non-finite value (${values[i]}) at position ${i % dim}`,
      );
    }
  }
}

/**
 * Refuses labels and buckets that no index could have written: a label below -1 or past the
 * classes, a bucket outside the anchors, a labelled item outside its label's bucket (two-stage
 * search would never find it by its class), and in a FlatIndex file any bucket but -1.
 */
function checkAssignments(labels: Int32Array, buckets: Int32Array, classes: number): void {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i]!;
    const bucket = buckets[i]!;
    if (label < -1 || label === 0x7fffffff || (classes > 0 && label >= classes))
      throw corrupt(`label ${label} of item ${i} out of range`);
    if (classes > 0 ? bucket < 0 || bucket >= classes : bucket !== -1)
      throw corrupt(`bucket ${bucket} of item ${i} out of range`);
    if (classes > 0 && label >= 0 && bucket !== label)
      throw corrupt(
        `item ${i} has label ${label} but sits in bucket ${bucket}; a labelled item belongs to its label's bucket`,
      );
  }
}

function decodeIds(bytes: Uint8Array, n: number): ItemId[] {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // ignoreBOM: a decoder otherwise drops a leading U+FEFF, so the id "\ufeff" would load as ""
  const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
  const ids: ItemId[] = new Array(n);
  const seen = new Set<ItemId>();
  let offset = 0;
  for (let i = 0; i < n; i++) {
    if (offset >= bytes.length) throw corrupt(`ids section ends before id ${i}`);
    const tag = bytes[offset++];
    let id: ItemId;
    if (tag === ID_NUMBER && offset + 8 <= bytes.length) {
      id = view.getFloat64(offset, true);
      offset += 8;
      if (!Number.isSafeInteger(id)) throw corrupt(`id ${i} is not a safe integer`);
    } else if (tag === ID_STRING && offset + 4 <= bytes.length) {
      const length = view.getUint32(offset, true);
      offset += 4;
      if (offset + length > bytes.length) throw corrupt(`id ${i} runs past the ids section`);
      try {
        id = decoder.decode(bytes.subarray(offset, offset + length));
      } catch (cause) {
        throw new AnchorageError('CORRUPT_FILE', `id ${i} is not valid UTF-8`, { argument: 'path', cause });
      }
      offset += length;
    } else {
      throw corrupt(`id ${i} has an invalid tag`);
    }
    if (seen.has(id)) throw corrupt(`id ${JSON.stringify(id)} appears twice`);
    seen.add(id);
    ids[i] = id;
  }
  if (offset !== bytes.length) throw corrupt('ids section has trailing bytes');
  return ids;
}

/**
 * Writes an index file atomically: the bytes go to a temporary file in the same directory, which
 * is flushed to disk and then renamed over `path`, so readers see the old file or the new one.
 */
export async function writeIndexFile(path: string, contents: IndexFileContents): Promise<void> {
  const parts = encodeIndexFile(contents);
  const temporary = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(temporary, 'w');
  } catch (cause) {
    throw new AnchorageError('IO_ERROR', `cannot write index file ${path}: ${systemReason(cause)}`, {
      argument: 'path',
      value: path,
      cause,
    });
  }
  try {
    try {
      for (const part of parts) {
        // A single write may be partial (and Linux caps one at about 2 GiB): write in slices until done.
        for (let offset = 0; offset < part.length; ) {
          const { bytesWritten } = await handle.write(part, offset, Math.min(part.length - offset, 1 << 30));
          offset += bytesWritten;
        }
      }
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temporary, path);
  } catch (error) {
    await unlink(temporary).catch(() => undefined);
    throw new AnchorageError('IO_ERROR', `cannot write index file ${path}: ${systemReason(error)}`, {
      argument: 'path',
      value: path,
      cause: error,
    });
  }
  // Persist the rename itself; some file systems refuse to fsync a directory, which is harmless.
  try {
    const directory = await open(dirname(path), 'r');
    try {
      await directory.sync();
    } finally {
      await directory.close();
    }
  } catch {}
}

/** Reads and verifies an index file (see `decodeIndexFile`). */
export async function readIndexFile(path: string): Promise<IndexFileContents> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read index file ${path}: ${systemReason(cause)}`, {
      argument: 'path',
      value: path,
      cause,
    });
  }
  return decodingFile(path, () => decodeIndexFile(bytes));
}

/** The file contents of a store, items in insertion order. @internal */
export function storeContents(
  store: ItemStore,
  dim: number,
  anchors: Float32Array | undefined,
): IndexFileContents {
  const locations = store.sortedLocations();
  const n = locations.length;
  const vectors = new Float32Array(n * dim);
  const labels = new Int32Array(n);
  const buckets = new Int32Array(n);
  const ids: ItemId[] = new Array(n);
  locations.forEach(([bucket, slot], i) => {
    const block = store.blocks[bucket]!;
    vectors.set(block.vectors.subarray(slot * dim, (slot + 1) * dim), i * dim);
    labels[i] = block.labels[slot]!;
    buckets[i] = anchors === undefined ? -1 : bucket;
    ids[i] = block.ids[slot]!;
  });
  return { dim, anchors, ids, vectors, labels, buckets };
}
