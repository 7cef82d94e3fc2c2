import * as zlib from 'node:zlib';

let table: Uint32Array | undefined;

function crcTable(): Uint32Array {
  if (table !== undefined) return table;
  table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
}

/** CRC-32 (IEEE 802.3, the zlib/PNG polynomial) in portable JavaScript; `previous` continues a running value. */
export function crc32Portable(bytes: Uint8Array, previous = 0): number {
  const t = crcTable();
  let c = ~previous >>> 0;
  for (let i = 0; i < bytes.length; i++) c = t[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// node:zlib gained crc32 in Node 20.15 / 22.2; it computes the same checksum, only faster.
const native = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 of `bytes`, continuing from `previous` (0 to start). */
export function crc32(bytes: Uint8Array, previous = 0): number {
  // Node 20's native crc32 returns 0 for an empty view over an empty ArrayBuffer, dropping `previous`.
  if (bytes.length === 0) return previous >>> 0;
  return typeof native === 'function' ? native(bytes, previous) >>> 0 : crc32Portable(bytes, previous);
}
