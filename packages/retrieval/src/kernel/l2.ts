import { AnchorageError } from '@anchorage/loss-core';

// The compiled form of l2.wat (416 bytes); see that file for the source and how to rebuild it.
const L2_WASM =
  'AGFzbQEAAAABCQFgBX9/f39/AAIPAQNlbnYGbWVtb3J5AgABAwIBAAcGAQJsMgAACu0CAeoCBAN/A3sCfQF/IANBeHFBAnQhDSADQXxxQQJ0IQcCQANAIAUgAk8NAf0MAAAAAAAAAAAAAAAAAAAAACEI/QwAAAAAAAAAAAAAAAAAAAAAIQlBACEGAkADQCAGIA1PDQEgACAGav0ABAAgASAGav0ABAD95QEhCiAIIAogCv3mAf3kASEIIAAgBmr9AAQQIAEgBmr9AAQQ/eUBIQogCSAKIAr95gH95AEhCSAGQSBqIQYMAAsLAkADQCAGIAdPDQEgACAGav0ABAAgASAGav0ABAD95QEhCiAIIAogCv3mAf3kASEIIAZBEGohBgwACwsgCCAJ/eQBIQggCP0fACAI/R8BkiAI/R8CIAj9HwOSkiELAkADQCAGIANBAnRPDQEgACAGaioCACABIAZqKgIAkyEMIAsgDCAMlJIhCyAGQQRqIQYMAAsLIAQgBUECdGogCzgCACABIANBAnRqIQEgBUEBaiEFDAALCws=';

type L2Kernel = (query: number, rows: number, count: number, dim: number, out: number) => void;

// The part of the WebAssembly JavaScript API used here, typed locally: the package compiles
// without the DOM library, whose declarations the full API lives in.
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  validate(bytes: Uint8Array): boolean;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: Record<string, unknown> };
  Memory: new (descriptor: { initial: number; maximum?: number }) => WasmMemory;
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

/** Rows per kernel call: the distances of one tile fit the scratch area. */
export const TILE_ROWS = 1024;
const PAGE = 65536;
const MAX_PAGES = 65536;
/** Below this many bytes of rows a block stays in a plain ArrayBuffer: a 64 KiB page would mostly sit empty. */
const SIMD_MIN_BYTES = 32 * 1024;

/**
 * Rows of `dim` float32 values in memory the SIMD kernel can read: one WebAssembly memory laid out
 * as [query | TILE_ROWS distances | rows…]. Growing extends the memory in place (no copy); `rows`
 * is re-created after every resize, so never keep it across one. Small blocks (under 32 KiB of rows)
 * and runtimes without SIMD use a plain ArrayBuffer and the JavaScript kernel, which gives the same
 * distances bit for bit.
 */
export class RowStore {
  rows!: Float32Array;
  capacity = 0;
  private memory: WasmMemory | undefined;
  private buffer!: ArrayBuffer;
  private kernel: L2Kernel | undefined;
  private query!: Float32Array;
  private out!: Float32Array;
  private readonly queryBytes: number;
  private outRows = 0;
  private rowsOffset = 0;

  /** `simd: false` forces the JavaScript kernel (for tests and comparison). */
  constructor(
    readonly dim: number,
    capacity: number,
    private readonly simd = true,
  ) {
    this.queryBytes = Math.ceil((dim * 4) / 16) * 16;
    this.allocate(capacity, 0);
  }

  /** Whether this store's distances run in WebAssembly SIMD (large blocks) or JavaScript (small ones). */
  get usesSimd(): boolean {
    return this.kernel !== undefined;
  }

  /** Bytes held (the whole memory, header included). */
  get bytes(): number {
    return this.buffer.byteLength;
  }

  /** Changes the capacity to `capacity` rows, keeping the first `keep` rows. */
  resize(capacity: number, keep: number): void {
    if (capacity > this.capacity && this.memory !== undefined) {
      const needed = Math.ceil((this.rowsOffset + capacity * this.dim * 4) / PAGE);
      const current = this.buffer.byteLength / PAGE;
      if (needed > MAX_PAGES) throw tooLarge(capacity, this.dim);
      if (needed > current) this.memory.grow(needed - current);
      this.capacity = capacity;
      this.view();
      return;
    }
    this.allocate(capacity, keep);
  }

  /** Copies the query at `query[offset..offset+dim)` in for the following `distances` calls. */
  setQuery(query: Float32Array, offset: number): void {
    this.query.set(query.subarray(offset, offset + this.dim));
  }

  /** Distances from the current query to rows start..end-1 (end − start ≤ TILE_ROWS); a view valid until the next call. */
  distances(start: number, end: number): Float32Array {
    const count = end - start;
    if (this.kernel !== undefined) {
      this.kernel(0, this.rowsOffset + start * this.dim * 4, count, this.dim, this.queryBytes);
    } else {
      for (let i = 0; i < count; i++)
        this.out[i] = squaredL2(this.query, 0, this.rows, (start + i) * this.dim, this.dim);
    }
    return this.out.subarray(0, count);
  }

  private allocate(capacity: number, keep: number): void {
    const old = this.capacity > 0 ? this.rows.subarray(0, keep * this.dim) : undefined;
    const rowBytes = capacity * this.dim * 4;
    const module = this.simd && rowBytes >= SIMD_MIN_BYTES ? l2Module() : null;
    this.outRows = module !== null ? TILE_ROWS : Math.min(TILE_ROWS, capacity);
    this.rowsOffset = this.queryBytes + Math.ceil((this.outRows * 4) / 16) * 16;
    const bytes = this.rowsOffset + rowBytes;
    if (module !== null) {
      const pages = Math.max(1, Math.ceil(bytes / PAGE));
      if (pages > MAX_PAGES) throw tooLarge(capacity, this.dim);
      this.memory = new wasm!.Memory({ initial: pages, maximum: MAX_PAGES });
      const instance = new wasm!.Instance(module, { env: { memory: this.memory } });
      this.kernel = instance.exports.l2 as L2Kernel;
    } else {
      this.memory = undefined;
      this.kernel = undefined;
      this.buffer = new ArrayBuffer(bytes);
    }
    this.capacity = capacity;
    this.view();
    if (old !== undefined) this.rows.set(old);
  }

  private view(): void {
    if (this.memory !== undefined) this.buffer = this.memory.buffer;
    this.query = new Float32Array(this.buffer, 0, this.dim);
    this.out = new Float32Array(this.buffer, this.queryBytes, this.outRows);
    this.rows = new Float32Array(this.buffer, this.rowsOffset, this.capacity * this.dim);
  }
}

function tooLarge(capacity: number, dim: number): AnchorageError {
  return new AnchorageError(
    'UNSUPPORTED',
    `${capacity} rows of dim ${dim} exceed the 4 GiB a bucket may hold; use an AnchorIndex with more anchors`,
    { argument: 'vectors', value: capacity },
  );
}
