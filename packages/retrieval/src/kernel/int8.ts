import { AnchorageError } from '@anchorage/loss-core';
import { type Int8Kernel, kernels, MemoryRows, type SharedRows, SIMD_MIN_BYTES, TILE_ROWS } from './l2.js';

/**
 * The int8 codes of the compressed stage 2. Each row x is stored as a scale s = max|x_j| / 127,
 * its exact squared norm ‖x‖² and codes c_j = round(x_j / s) in −127..127; a query q is quantised
 * to int16 values q̃_j = round(q_j / t) with t = max|q_j| / Q. The estimate of ‖q − x‖² is
 *
 *   ‖q‖² + ‖x‖² − 2·t·s·Σ_j q̃_j·c_j
 *
 * with the dot product exact in integers (Q is the largest bound that keeps every partial sum
 * inside int32 for this dim). Rows are 16 + ⌈dim/16⌉·16 bytes: a quarter of float32 rows plus a
 * header, so a scan reads about a quarter of the memory. The estimate only chooses candidates;
 * they are re-ranked with exact float32 distances.
 */

/** Bytes of one coded row: the header (scale, squared norm, 8 spare bytes), then the padded codes. */
export function codeStride(dim: number): number {
  return 16 + padded(dim);
}

function padded(dim: number): number {
  return Math.ceil(dim / 16) * 16;
}

/** The query bound Q: the largest int16 magnitude whose dot products with int8 codes cannot overflow int32. */
export function queryBound(dim: number): number {
  return Math.max(1, Math.min(32767, Math.floor(2147483647 / (127 * padded(dim)))));
}

/** The largest dim the codes support (the query bound would fall below 1). */
export const MAX_CODE_DIM = Math.floor(2147483647 / 127 / 16) * 16;

function slotBytes(dim: number): number {
  return 2 * padded(dim) + TILE_ROWS * 4;
}

const extent = new Float64Array(2);

/** max |v_j| and Σ v_j² of `values[offset..offset+dim)`, into `extent` (no allocation). */
function measure(values: Float32Array, offset: number, dim: number): Float64Array {
  let max = 0;
  let norm = 0;
  for (let j = 0; j < dim; j++) {
    const v = values[offset + j]!;
    const a = Math.abs(v);
    if (a > max) max = a;
    norm += v * v;
  }
  extent[0] = max;
  extent[1] = norm;
  return extent;
}

/**
 * Writes the code row of `source[offset..offset+dim)` at byte `at` of `bytes` (with `floats`, a
 * Float32Array over the same buffer, for the header).
 */
export function encodeRow(
  source: Float32Array,
  offset: number,
  dim: number,
  bytes: Int8Array,
  floats: Float32Array,
  at: number,
): void {
  const e = measure(source, offset, dim);
  const max = e[0]!;
  const norm = e[1]!;
  const scale = Math.fround(max / 127);
  floats[at >> 2] = scale;
  floats[(at >> 2) + 1] = norm;
  floats[(at >> 2) + 2] = 0;
  floats[(at >> 2) + 3] = 0;
  const codes = at + 16;
  for (let j = 0; j < dim; j++)
    bytes[codes + j] =
      scale === 0 ? 0 : Math.max(-127, Math.min(127, Math.round(source[offset + j]! / scale)));
  bytes.fill(0, codes + dim, codes + padded(dim));
}

/**
 * One thread's access to a code store: its quantised query and output area (slot `slot` of the
 * shared memory, or its own arrays for a plain buffer) and the kernel. Readers in different
 * threads never write the same bytes, so they may scan one store at the same time.
 */
export class CodeReader {
  private readonly kernel: Int8Kernel | undefined;
  private readonly query: Int16Array;
  private readonly out: Float32Array;
  private readonly queryPointer: number;
  private readonly outPointer: number;
  private readonly stride: number;
  private readonly bound: number;
  private bytes: Int8Array;
  private floats: Float32Array;
  private qn = 0;
  private qs2 = 0;

  constructor(
    readonly source: SharedRows,
    slot: number,
  ) {
    const { dim, memory } = source;
    this.stride = codeStride(dim);
    this.bound = queryBound(dim);
    if (memory !== undefined) {
      this.kernel = kernels(memory).int8;
      this.queryPointer = slot * slotBytes(dim);
      this.outPointer = this.queryPointer + 2 * padded(dim);
      this.query = new Int16Array(memory.buffer, this.queryPointer, padded(dim));
      this.out = new Float32Array(memory.buffer, this.outPointer, TILE_ROWS);
      this.bytes = new Int8Array(0);
      this.floats = new Float32Array(0);
    } else {
      this.kernel = undefined;
      this.queryPointer = 0;
      this.outPointer = 0;
      this.query = new Int16Array(padded(dim));
      this.out = new Float32Array(TILE_ROWS);
      this.bytes = new Int8Array(source.buffer!);
      this.floats = new Float32Array(source.buffer!, 0, source.buffer!.byteLength >> 2);
    }
  }

  /** Quantises the query at `query[offset..offset+dim)` for the following `distances` calls. */
  setQuery(query: Float32Array, offset: number): void {
    const dim = this.source.dim;
    const e = measure(query, offset, dim);
    const max = e[0]!;
    const norm = e[1]!;
    const step = max / this.bound;
    for (let j = 0; j < dim; j++) this.query[j] = step === 0 ? 0 : Math.round(query[offset + j]! / step);
    this.qn = Math.fround(norm);
    this.qs2 = Math.fround(2 * step);
  }

  /** Estimated distances from the current query to rows start..end-1 (end − start ≤ TILE_ROWS); a view valid until the next call. */
  distances(start: number, end: number): Float32Array {
    const count = end - start;
    const rows = this.source.rowsOffset + start * this.stride;
    if (this.kernel !== undefined) {
      this.kernel(this.queryPointer, rows, count, this.stride, this.outPointer, this.qn, this.qs2);
    } else {
      for (let i = 0; i < count; i++) this.out[i] = this.estimate(rows + i * this.stride);
    }
    return count === TILE_ROWS ? this.out : this.out.subarray(0, count);
  }

  /** The kernel's arithmetic in JavaScript, bit for bit: the row at byte `at` of a plain buffer. */
  private estimate(at: number): number {
    const f = Math.fround;
    const bytes = this.bytes;
    const q = this.query;
    const codes = at + 16;
    let dot = 0;
    for (let j = 0; j < q.length; j++) dot += q[j]! * bytes[codes + j]!;
    const scale = this.floats[at >> 2]!;
    const norm = this.floats[(at >> 2) + 1]!;
    return f(f(this.qn + norm) - f(f(this.qs2 * scale) * f(dot)));
  }
}

/**
 * The int8 codes of one block's rows, in shared row memory beside its float32 rows (same slots),
 * with this thread's reader (slot 0). Kept in step by the block: `encode` when a row is written,
 * `move` when one moves.
 */
export class CodeStore extends MemoryRows {
  private readonly stride: number;
  private reader!: CodeReader;
  private codes!: Int8Array;
  private floats!: Float32Array;

  constructor(dim: number, capacity: number, simd = true) {
    if (dim > MAX_CODE_DIM) {
      throw new AnchorageError('UNSUPPORTED', `int8 compression supports dim ≤ ${MAX_CODE_DIM}, got ${dim}`, {
        argument: 'dim',
        value: dim,
      });
    }
    super(dim, codeStride(dim), slotBytes(dim), capacity, simd, SIMD_MIN_BYTES);
    this.stride = codeStride(dim);
    this.attach();
  }

  /** Codes the row `source[offset..offset+dim)` into `slot`. */
  encode(slot: number, source: Float32Array, offset: number): void {
    encodeRow(
      source,
      offset,
      this.dim,
      this.codes,
      this.floats,
      this.memory.source.rowsOffset + slot * this.stride,
    );
  }

  /** Copies the codes of slot `from` to slot `to`. */
  move(to: number, from: number): void {
    const base = this.memory.source.rowsOffset;
    this.codes.copyWithin(
      base + to * this.stride,
      base + from * this.stride,
      base + (from + 1) * this.stride,
    );
  }

  setQuery(query: Float32Array, offset: number): void {
    this.reader.setQuery(query, offset);
  }

  distances(start: number, end: number): Float32Array {
    return this.reader.distances(start, end);
  }

  protected attach(): void {
    this.reader = new CodeReader(this.memory.source, 0);
    this.view();
  }

  protected view(): void {
    const buffer = this.memory.buffer;
    this.codes = new Int8Array(buffer);
    this.floats = new Float32Array(buffer, 0, buffer.byteLength >> 2);
  }
}
