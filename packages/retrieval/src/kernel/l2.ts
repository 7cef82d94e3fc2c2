import { AnchorageError } from '@anchorage/loss-core';

// The compiled form of l2.wat (804 bytes); see that file for the source and how to rebuild it (a
// test compiles the text and compares).
export const L2_WASM =
  'AGFzbQEAAAABEwJgBX9/f39/AGAHf39/f399fQACEgEDZW52Bm1lbW9yeQIDAYCABAMDAgABBw0CAmwyAAAEaW50OAABCtwFAuoCBAN/A3sCfQF/IANBeHFBAnQhDSADQXxxQQJ0IQcCQANAIAUgAk8NAf0MAAAAAAAAAAAAAAAAAAAAACEI/QwAAAAAAAAAAAAAAAAAAAAAIQlBACEGAkADQCAGIA1PDQEgACAGav0ABAAgASAGav0ABAD95QEhCiAIIAogCv3mAf3kASEIIAAgBmr9AAQQIAEgBmr9AAQQ/eUBIQogCSAKIAr95gH95AEhCSAGQSBqIQYMAAsLAkADQCAGIAdPDQEgACAGav0ABAAgASAGav0ABAD95QEhCiAIIAogCv3mAf3kASEIIAZBEGohBgwACwsgCCAJ/eQBIQggCP0fACAI/R8BkiAI/R8CIAj9HwOSkiELAkADQCAGIANBAnRPDQEgACAGaioCACABIAZqKgIAkyEMIAsgDCAMlJIhCyAGQQRqIQYMAAsLIAQgBUECdGogCzgCACABIANBAnRqIQEgBUEBaiEFDAALCwvtAgUDfwJ7AX8CewF/IANBEGshCQJAA0AgByACTw0B/QwAAAAAAAAAAAAAAAAAAAAAIQogAUEQaiEMQQAhCP0MAAAAAAAAAAAAAAAAAAAAACENIAAhDwJAA0AgCEEgaiAJSw0BIAwgCGr9AAQAIQsgDCAIav0ABBAhDiAKIAv9hwEgD/0ABAD9ugH9rgEhCiANIAv9iAEgD/0ABBD9ugH9rgEhDSAKIA79hwEgD/0ABCD9ugH9rgEhCiANIA79iAEgD/0ABDD9ugH9rgEhDSAIQSBqIQggD0HAAGohDwwACwsgCCAJSQRAIAwgCGr9AAQAIQsgCiAL/YcBIA/9AAQA/boB/a4BIQogDSAL/YgBIA/9AAQQ/boB/a4BIQ0LIAogDf2uASEKIAQgB0ECdGogBSABKgIEkiAGIAEqAgCUIAr9GwAgCv0bAWogCv0bAiAK/RsDamqylJM4AgAgASADaiEBIAdBAWohBwwACwsL';

type L2Kernel = (query: number, rows: number, count: number, dim: number, out: number) => void;
/** The int8 estimate kernel: (query, rows, count, stride, out, qn, qs2). */
export type Int8Kernel = (
  query: number,
  rows: number,
  count: number,
  stride: number,
  out: number,
  qn: number,
  qs2: number,
) => void;

// The part of the WebAssembly JavaScript API used here, typed locally: the package compiles
// without the DOM library, whose declarations the full API lives in.
export interface WasmMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => WasmMemory;
}
const wasm = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

let compiled: WasmModule | null | undefined;

/** The SIMD module, or null where WebAssembly SIMD is unavailable (the JavaScript kernel then runs). */
function l2Module(): WasmModule | null {
  if (compiled === undefined) {
    compiled = null;
    try {
      const bytes = Uint8Array.from(atob(L2_WASM), (c) => c.charCodeAt(0));
      if (wasm?.validate(bytes)) compiled = new wasm.Module(bytes);
    } catch {
      compiled = null;
    }
  }
  return compiled;
}

/** The kernels of one instance over a shared memory (each thread makes its own). */
export function kernels(memory: WasmMemory): { l2: L2Kernel; int8: Int8Kernel } {
  const instance = new wasm!.Instance(l2Module()!, { env: { memory } });
  return { l2: instance.exports.l2 as L2Kernel, int8: instance.exports.int8 as Int8Kernel };
}

/** Whether distances run in WebAssembly SIMD here (otherwise in JavaScript, with identical results). */
export function simdAvailable(): boolean {
  return l2Module() !== null;
}

/**
 * Squared Euclidean distance between `a[aOffset..aOffset+dim)` and `b[bOffset..bOffset+dim)` in
 * float32 arithmetic, exactly as the SIMD kernel computes it: component j goes to lane j mod 4 of
 * one of two accumulators (alternating blocks of four), the lanes are summed as (l0 + l1) + (l2 + l3),
 * then the dim mod 4 tail is added. Every index and the metrics produce this same number, bit for
 * bit, so rankings agree everywhere; its relative error against exact arithmetic is about dim·6e-8.
 */
export function squaredL2(
  a: Float32Array,
  aOffset: number,
  b: Float32Array,
  bOffset: number,
  dim: number,
): number {
  const f = Math.fround;
  let a0 = 0;
  let a1 = 0;
  let a2 = 0;
  let a3 = 0;
  let b0 = 0;
  let b1 = 0;
  let b2 = 0;
  let b3 = 0;
  const end8 = dim & ~7;
  const end4 = dim & ~3;
  let j = 0;
  for (; j < end8; j += 8) {
    const x = aOffset + j;
    const y = bOffset + j;
    let d = f(a[x]! - b[y]!);
    a0 = f(a0 + f(d * d));
    d = f(a[x + 1]! - b[y + 1]!);
    a1 = f(a1 + f(d * d));
    d = f(a[x + 2]! - b[y + 2]!);
    a2 = f(a2 + f(d * d));
    d = f(a[x + 3]! - b[y + 3]!);
    a3 = f(a3 + f(d * d));
    d = f(a[x + 4]! - b[y + 4]!);
    b0 = f(b0 + f(d * d));
    d = f(a[x + 5]! - b[y + 5]!);
    b1 = f(b1 + f(d * d));
    d = f(a[x + 6]! - b[y + 6]!);
    b2 = f(b2 + f(d * d));
    d = f(a[x + 7]! - b[y + 7]!);
    b3 = f(b3 + f(d * d));
  }
  if (j < end4) {
    const x = aOffset + j;
    const y = bOffset + j;
    let d = f(a[x]! - b[y]!);
    a0 = f(a0 + f(d * d));
    d = f(a[x + 1]! - b[y + 1]!);
    a1 = f(a1 + f(d * d));
    d = f(a[x + 2]! - b[y + 2]!);
    a2 = f(a2 + f(d * d));
    d = f(a[x + 3]! - b[y + 3]!);
    a3 = f(a3 + f(d * d));
    j += 4;
  }
  let s = f(f(f(a0 + b0) + f(a1 + b1)) + f(f(a2 + b2) + f(a3 + b3)));
  for (; j < dim; j++) {
    const d = f(a[aOffset + j]! - b[bOffset + j]!);
    s = f(s + f(d * d));
  }
  return s;
}

/** Rows per kernel call: the distances of one tile fit a thread's output area. */
export const TILE_ROWS = 256;
/**
 * Threads that may read one store at once (the owning thread and up to 15 workers): each has its
 * own query and output area at the start of the store's shared memory.
 */
export const MAX_THREADS = 16;
export const PAGE = 65536;
const MAX_PAGES = 65536;
/** Below this many bytes of rows a block stays in a plain SharedArrayBuffer: a 64 KiB page would mostly sit empty. */
export const SIMD_MIN_BYTES = 32 * 1024;

/**
 * Where a store's rows live, as another thread needs them to read: a shared WebAssembly memory
 * (SIMD kernel; rows start after the threads' scratch areas) or a plain SharedArrayBuffer
 * (JavaScript kernel). Both can be posted to a worker without copying the rows.
 */
export interface SharedRows {
  dim: number;
  memory: WasmMemory | undefined;
  buffer: SharedArrayBuffer | undefined;
  /** Byte offset of row 0. */
  rowsOffset: number;
}

function scratchLayout(dim: number): { queryBytes: number; slotBytes: number } {
  const queryBytes = Math.ceil((dim * 4) / 16) * 16;
  return { queryBytes, slotBytes: queryBytes + TILE_ROWS * 4 };
}

/**
 * One thread's access to a store's rows: its query and output areas (slot `slot` of the shared
 * memory, or its own arrays for a plain buffer) and the kernel. Readers in different threads never
 * write the same bytes, so they may scan one store at the same time.
 */
export class RowReader {
  private readonly kernel: L2Kernel | undefined;
  private readonly query: Float32Array;
  private readonly out: Float32Array;
  private readonly queryPointer: number;
  private readonly outPointer: number;
  private readonly rowsOffset: number;
  private readonly dim: number;
  private rows: Float32Array;

  constructor(
    readonly source: SharedRows,
    slot: number,
  ) {
    const { dim, memory, rowsOffset } = source;
    this.dim = dim;
    this.rowsOffset = rowsOffset;
    const { queryBytes, slotBytes } = scratchLayout(dim);
    if (memory !== undefined) {
      this.kernel = kernels(memory).l2;
      this.queryPointer = slot * slotBytes;
      this.outPointer = this.queryPointer + queryBytes;
      // Views of a shared memory stay valid when it grows (it never moves), and the scratch sits first.
      this.query = new Float32Array(memory.buffer, this.queryPointer, dim);
      this.out = new Float32Array(memory.buffer, this.outPointer, TILE_ROWS);
      this.rows = this.query;
    } else {
      this.kernel = undefined;
      this.queryPointer = 0;
      this.outPointer = 0;
      this.query = new Float32Array(dim);
      this.out = new Float32Array(TILE_ROWS);
      this.rows = new Float32Array(source.buffer!, rowsOffset);
    }
  }

  /** Copies the query at `query[offset..offset+dim)` in for the following `distances` calls. */
  setQuery(query: Float32Array, offset: number): void {
    this.query.set(query.subarray(offset, offset + this.dim));
  }

  /** The distance from the current query to row `row` (as `distances` gives it, without a view). */
  distance(row: number): number {
    if (this.kernel === undefined) return squaredL2(this.query, 0, this.rows, row * this.dim, this.dim);
    this.kernel(this.queryPointer, this.rowsOffset + row * this.dim * 4, 1, this.dim, this.outPointer);
    return this.out[0]!;
  }

  /** Distances from the current query to rows start..end-1 (end − start ≤ TILE_ROWS); a view valid until the next call. */
  distances(start: number, end: number): Float32Array {
    const count = end - start;
    if (this.kernel !== undefined) {
      this.kernel(
        this.queryPointer,
        this.rowsOffset + start * this.dim * 4,
        count,
        this.dim,
        this.outPointer,
      );
    } else {
      const rows = this.rows;
      for (let i = 0; i < count; i++)
        this.out[i] = squaredL2(this.query, 0, rows, (start + i) * this.dim, this.dim);
    }
    return count === TILE_ROWS ? this.out : this.out.subarray(0, count);
  }
}

/**
 * Rows of `rowBytes` bytes in shared memory the SIMD kernels can read: one shared WebAssembly
 * memory laid out as [MAX_THREADS × scratch slot (query | TILE_ROWS distances) | rows…]. Growing
 * extends the memory in place (no copy; readers in other threads stay valid). Small blocks (under
 * `minSimdBytes` of rows) and runtimes without SIMD use a plain SharedArrayBuffer of rows only,
 * read by the JavaScript kernels; such a buffer is replaced when it is resized. The memory of
 * {@link RowStore} (float32 rows) and of the int8 code store alike.
 */
export class RowMemory {
  capacity = 0;
  /** What another thread needs to read the rows; replaced when the rows move to a new buffer. */
  source!: SharedRows;

  constructor(
    readonly dim: number,
    private readonly rowBytes: number,
    private readonly slotBytes: number,
    capacity: number,
    private readonly simd: boolean,
    private readonly minSimdBytes: number,
  ) {
    this.allocate(capacity, 0);
  }

  get usesSimd(): boolean {
    return this.source.memory !== undefined;
  }

  /** Bytes held (the whole memory, scratch areas included). */
  get bytes(): number {
    return this.buffer.byteLength;
  }

  get buffer(): SharedArrayBuffer {
    return this.source.memory?.buffer ?? this.source.buffer!;
  }

  /**
   * Changes the capacity to `capacity` rows, keeping the first `keep` rows. Returns true when the
   * rows moved to new memory (views and readers of the old memory then read stale rows).
   */
  resize(capacity: number, keep: number): boolean {
    const memory = this.source.memory;
    if (capacity > this.capacity && memory !== undefined) {
      const needed = Math.ceil((this.source.rowsOffset + capacity * this.rowBytes) / PAGE);
      const current = memory.buffer.byteLength / PAGE;
      if (needed > MAX_PAGES) throw tooLarge(capacity, this.dim);
      if (needed > current) memory.grow(needed - current);
      this.capacity = capacity;
      return false;
    }
    this.allocate(capacity, keep);
    return true;
  }

  private allocate(capacity: number, keep: number): void {
    const old =
      this.capacity > 0
        ? new Uint8Array(this.buffer, this.source.rowsOffset, keep * this.rowBytes)
        : undefined;
    const rowBytes = capacity * this.rowBytes;
    const module = this.simd && rowBytes >= this.minSimdBytes ? l2Module() : null;
    if (module !== null) {
      const rowsOffset = MAX_THREADS * this.slotBytes;
      const pages = Math.max(1, Math.ceil((rowsOffset + rowBytes) / PAGE));
      if (pages > MAX_PAGES) throw tooLarge(capacity, this.dim);
      const memory = new wasm!.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
      this.source = { dim: this.dim, memory, buffer: undefined, rowsOffset };
    } else {
      this.source = {
        dim: this.dim,
        memory: undefined,
        buffer: new SharedArrayBuffer(rowBytes),
        rowsOffset: 0,
      };
    }
    this.capacity = capacity;
    if (old !== undefined) new Uint8Array(this.buffer, this.source.rowsOffset, old.length).set(old);
  }
}

/**
 * A store of rows in a {@link RowMemory} with this thread's reader (slot 0): what the float32 rows
 * ({@link RowStore}) and the int8 codes (`CodeStore`) share. A subclass makes its reader and views
 * in `attach` (after the rows moved to new memory) and refreshes its views in `view` (after the
 * memory grew in place).
 */
export abstract class MemoryRows {
  protected readonly memory: RowMemory;

  constructor(
    readonly dim: number,
    rowBytes: number,
    slotBytes: number,
    capacity: number,
    simd: boolean,
    minSimdBytes: number,
  ) {
    this.memory = new RowMemory(dim, rowBytes, slotBytes, capacity, simd, minSimdBytes);
  }

  get capacity(): number {
    return this.memory.capacity;
  }

  /** What another thread needs to read the rows; replaced when the rows move to a new buffer. */
  get source(): SharedRows {
    return this.memory.source;
  }

  /** Whether this store's distances run in WebAssembly SIMD (large blocks) or JavaScript (small ones). */
  get usesSimd(): boolean {
    return this.memory.usesSimd;
  }

  /** Bytes held (the whole memory, scratch areas included). */
  get bytes(): number {
    return this.memory.bytes;
  }

  /** Changes the capacity to `capacity` rows, keeping the first `keep` rows. */
  resize(capacity: number, keep: number): void {
    if (this.memory.resize(capacity, keep)) this.attach();
    else this.view();
  }

  protected abstract attach(): void;
  protected abstract view(): void;
}

/**
 * Rows of `dim` float32 values in a {@link RowMemory}, with this thread's reader (slot 0); `rows`
 * is re-created after every resize, so never keep it across one. The JavaScript kernel of small
 * blocks gives the same distances as the SIMD one, bit for bit.
 */
export class RowStore extends MemoryRows {
  rows!: Float32Array;
  private reader!: RowReader;

  /**
   * `simd: false` forces the JavaScript kernel (for tests and comparison); `minSimdBytes` is the
   * size from which rows live in WebAssembly memory (0: always, as for the anchors).
   */
  constructor(dim: number, capacity: number, simd = true, minSimdBytes = SIMD_MIN_BYTES) {
    super(dim, dim * 4, scratchLayout(dim).slotBytes, capacity, simd, minSimdBytes);
    this.attach();
  }

  /** Copies the query at `query[offset..offset+dim)` in for the following `distances` calls (this thread's slot 0). */
  setQuery(query: Float32Array, offset: number): void {
    this.reader.setQuery(query, offset);
  }

  /** Distances from the current query to rows start..end-1 (end − start ≤ TILE_ROWS); a view valid until the next call. */
  distances(start: number, end: number): Float32Array {
    return this.reader.distances(start, end);
  }

  /** The distance from the current query to row `row`. */
  distance(row: number): number {
    return this.reader.distance(row);
  }

  protected attach(): void {
    this.reader = new RowReader(this.memory.source, 0);
    this.view();
  }

  protected view(): void {
    this.rows = new Float32Array(this.memory.buffer, this.memory.source.rowsOffset, this.capacity * this.dim);
  }
}

function tooLarge(capacity: number, dim: number): AnchorageError {
  return new AnchorageError(
    'UNSUPPORTED',
    `${capacity} rows of dim ${dim} exceed the 4 GiB a bucket may hold; use an AnchorIndex with more anchors`,
    { argument: 'vectors', value: capacity },
  );
}
