import type * as tf from '@tensorflow/tfjs';
import { CONV_KERNELS_FMA_WASM, CONV_KERNELS_WASM } from './module';

/**
 * The trainer's own convolution kernels for the wasm backend, run in the backend's own memory:
 * Winograd F(4×4, 3×3) / F(2×2, 3×3) for 3×3 stride-1 convolutions (forward, input gradient,
 * filter gradient) and a direct strided-GEMM convolution for the rest of the stride-1 cases
 * (any filter size: first layers with a few input channels, 1×1 convolutions). Everything here
 * works on byte offsets into that memory.
 */

type I = number;
/** The module's exports (see generate.ts for each function's contract). */
export interface ConvKernelExports {
  gemm(a: I, sg: I, si: I, sk: I, b: I, ldb: I, c: I, ldc: I, M: I, N: I, K: I, G: I, acc: I): void;
  win2_in(P: I, C: I, Wp: I, Hp: I, th: I, tw: I, t0: I, count: I, V: I, vs: I): void;
  win4_in(P: I, C: I, Wp: I, Hp: I, th: I, tw: I, t0: I, count: I, V: I, vs: I): void;
  win2_out(M: I, ms: I, C: I, t0: I, count: I, th: I, tw: I, H: I, W: I, Y: I): void;
  win4_out(M: I, ms: I, C: I, t0: I, count: I, th: I, tw: I, H: I, W: I, Y: I): void;
  win2_dy(Y: I, C: I, H: I, W: I, th: I, tw: I, t0: I, count: I, V: I, vs: I): void;
  win4_dy(Y: I, C: I, H: I, W: I, th: I, tw: I, t0: I, count: I, V: I, vs: I): void;
  win2_filter(F: I, Ci: I, Co: I, U: I): void;
  win4_filter(F: I, Ci: I, Co: I, U: I): void;
  win2_filter_grad(dF: I, Ci: I, Co: I, dU: I): void;
  win4_filter_grad(dF: I, Ci: I, Co: I, dU: I): void;
  zero(p: I, bytes: I): void;
  copy_rows(src: I, sRow: I, sImg: I, dst: I, dRow: I, dImg: I, N: I, R: I, bytes: I): void;
  col_sum(src: I, rows: I, C: I, dst: I): void;
  maxpool2_grad(x: I, dy: I, dx: I, N: I, H: I, W: I, C: I, OH: I, OW: I): void;
  relu_grad(x: I, dy: I, dx: I, n: I): void;
  bias_act(y: I, bias: I, rows: I, C: I, hasBias: I, relu: I): void;
}

/** The parts of tfjs-backend-wasm's backend object these kernels use. */
export interface WasmBackendInternals {
  wasm: {
    asm?: { memory?: unknown };
    _malloc(bytes: number): number;
    _free(pointer: number): void;
  };
  dataIdMap: { get(dataId: tf.DataId): { memoryOffset: number } | undefined };
  makeOutput(shape: number[], dtype: tf.DataType): tf.TensorInfo;
}

interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
  Memory: abstract new (...args: never[]) => object;
  validate(bytes: Uint8Array): boolean;
}
const wasmApi = (globalThis as unknown as { WebAssembly?: WasmApi }).WebAssembly;

/** Which build of the kernels runs: relaxed-SIMD fused multiply-add in the GEMM, or plain SIMD. */
export type ConvKernelVariant = 'fma' | 'simd';

let compiled: { module: object; variant: ConvKernelVariant } | null | undefined;

/**
 * The compiled module: the FMA build where the runtime accepts relaxed SIMD (Node ≥ 22, current
 * browsers; Node 20 only with --experimental-wasm-relaxed-simd) unless ANCHORAGE_WASM_FMA=0, else
 * the plain SIMD build, else null. FMA rounds once per multiply-add, so the two builds differ in
 * the last bits; each is deterministic on one machine.
 */
function compiledKernels(): { module: object; variant: ConvKernelVariant } | null {
  if (compiled !== undefined) return compiled;
  compiled = null;
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  const builds: Array<[ConvKernelVariant, string]> = [
    ['fma', CONV_KERNELS_FMA_WASM],
    ['simd', CONV_KERNELS_WASM],
  ];
  for (const [variant, base64] of builds) {
    if (variant === 'fma' && env?.ANCHORAGE_WASM_FMA === '0') continue;
    try {
      const bytes = Uint8Array.from(atob(base64), (c) => c.charCodeAt(0));
      if (wasmApi?.validate(bytes)) {
        compiled = { module: new wasmApi.Module(bytes), variant };
        break;
      }
    } catch {
      // try the next build
    }
  }
  return compiled;
}

/** The build of the kernels this runtime uses, or null where WebAssembly SIMD is unavailable. */
export function convKernelVariant(): ConvKernelVariant | null {
  return compiledKernels()?.variant ?? null;
}

const instances = new WeakMap<object, ConvKernels | null>();

/** A kernel set bound to one wasm backend, with scratch allocation in that backend's heap. */
export class ConvKernels {
  constructor(
    readonly k: ConvKernelExports,
    private readonly backend: WasmBackendInternals,
    private readonly memory: { readonly buffer: ArrayBuffer },
  ) {}

  /** A view of the whole backend memory (made anew: the memory may have grown). */
  heap(): Float32Array {
    return new Float32Array(this.memory.buffer);
  }

  /** Byte offset of a tensor's data in the backend's memory. */
  pointer(info: tf.TensorInfo): number {
    const entry = this.backend.dataIdMap.get(info.dataId);
    if (entry === undefined) throw new Error('tensor data is not on the wasm backend');
    return entry.memoryOffset;
  }

  output(shape: number[]): { info: tf.TensorInfo; ptr: number } {
    const info = this.backend.makeOutput(shape, 'float32');
    return { info, ptr: this.pointer(info) };
  }

  /** Runs `body` with scratch buffers of the given byte sizes, freed afterwards. */
  withScratch<T>(sizes: number[], body: (...pointers: number[]) => T): T {
    const pointers: number[] = [];
    try {
      for (const size of sizes) {
        const p = this.backend.wasm._malloc(Math.max(16, size));
        if (p === 0) throw new Error(`wasm backend out of memory allocating ${size} bytes`);
        pointers.push(p);
      }
      return body(...pointers);
    } finally {
      for (const p of pointers) this.backend.wasm._free(p);
    }
  }
}

/**
 * The kernels bound to `backend` (a tfjs-backend-wasm instance), or null when they cannot run
 * there: no WebAssembly SIMD, or a backend build whose memory is not reachable (the threaded one).
 */
export function convKernelsFor(backend: object): ConvKernels | null {
  const cached = instances.get(backend);
  if (cached !== undefined) return cached;
  let kernels: ConvKernels | null = null;
  const internals = backend as Partial<WasmBackendInternals>;
  const memory = internals.wasm?.asm?.memory;
  const build = compiledKernels();
  if (
    build !== null &&
    wasmApi !== undefined &&
    memory instanceof wasmApi.Memory &&
    typeof internals.wasm?._malloc === 'function' &&
    internals.dataIdMap !== undefined &&
    typeof internals.makeOutput === 'function'
  ) {
    try {
      const instance = new wasmApi.Instance(build.module, { env: { memory } });
      kernels = new ConvKernels(
        instance.exports as unknown as ConvKernelExports,
        internals as WasmBackendInternals,
        memory as { buffer: ArrayBuffer },
      );
    } catch {
      kernels = null;
    }
  }
  instances.set(backend, kernels);
  return kernels;
}

/** Geometry of a stride-1, dilation-1 NHWC convolution. */
export interface ConvGeometry {
  readonly batch: number;
  readonly inHeight: number;
  readonly inWidth: number;
  readonly inChannels: number;
  readonly outHeight: number;
  readonly outWidth: number;
  readonly outChannels: number;
  readonly filterHeight: number;
  readonly filterWidth: number;
  readonly padTop: number;
  readonly padLeft: number;
}

/** Tiles per Winograd block: sized so a block's transformed input and output stay in L2. */
export const WINOGRAD_BLOCK_TILES = 64;
/** Output rows per chunk of the direct filter gradient's GEMM. */
const DIRECT_GRADIENT_CHUNK = 512;

/**
 * Bytes of padded copies (and the direct kernel's output grid) one call may allocate: larger
 * batches are processed a group of images at a time, so a batch of large images does not double
 * the heap. Settable for tests and for memory-tight runs.
 */
export const convScratch = { budgetBytes: 32 * 1024 * 1024 };

/** Images per group whose scratch (bytesPerImage each) fits the budget: at least 1, at most batch. */
function imagesPerGroup(batch: number, bytesPerImage: number): number {
  return Math.max(1, Math.min(batch, Math.floor(convScratch.budgetBytes / Math.max(1, bytesPerImage))));
}

/** Calls body(first, count) over consecutive groups of `group` images (the last may be smaller). */
function forImageGroups(batch: number, group: number, body: (first: number, count: number) => void): void {
  for (let first = 0; first < batch; first += group) body(first, Math.min(group, batch - first));
}

/** Images first … first + count − 1 of an N×height×width×channels float32 tensor at ptr. */
function imagesOf(
  ptr: number,
  height: number,
  width: number,
  channels: number,
  first: number,
  count: number,
) {
  return { ptr: ptr + first * height * width * channels * 4, batch: count, height, width, channels };
}

/**
 * The direct kernel's layout: each image zero-padded to hp × wp positions, images in groups that
 * fit the scratch budget, and the scratch sizes of one group's padded input and output grid. The
 * GEMM reads up to (fh − 1)·wp + fw − 1 positions past the last image: zeroed slack.
 */
function directLayout(g: ConvGeometry) {
  const hp = g.outHeight + g.filterHeight - 1;
  const wp = g.outWidth + g.filterWidth - 1;
  const cb = g.inChannels * 4;
  const group = imagesPerGroup(g.batch, hp * wp * (cb + g.outChannels * 4));
  // + 3 floats: the filter gradient's rounded-up rows read up to 3 values past a window
  const padded = group * hp * wp * cb + (g.filterHeight * wp + g.filterWidth) * cb + 12;
  return { hp, wp, cb, group, padded, grid: group * hp * wp * g.outChannels * 4 };
}

/** The Winograd tiling of an outH × outW output: tiles per column/row, the padded input size, tile count. */
function tiling(m: number, batch: number, outHeight: number, outWidth: number) {
  const th = Math.ceil(outHeight / m);
  const tw = Math.ceil(outWidth / m);
  return { th, tw, hp: m * th + 2, wp: m * tw + 2, tiles: batch * th * tw };
}

/**
 * Zeroes `bytes` at dst and copies the N×H×W×C tensor at src into it as an N×hp×wp×C grid, at
 * row padTop and column padLeft (rows and columns that do not fit are dropped).
 */
function padInto(
  kernels: ConvKernels,
  src: { ptr: number; batch: number; height: number; width: number; channels: number },
  dst: number,
  bytes: number,
  hp: number,
  wp: number,
  padTop: number,
  padLeft: number,
): void {
  const cb = src.channels * 4;
  kernels.k.zero(dst, bytes);
  kernels.k.copy_rows(
    src.ptr,
    src.width * cb,
    src.height * src.width * cb,
    dst + (padTop * wp + padLeft) * cb,
    wp * cb,
    hp * wp * cb,
    src.batch,
    Math.min(src.height, hp - padTop),
    Math.min(src.width, wp - padLeft) * cb,
  );
}

/** Output tile size (2 or 4) of the Winograd variant with fewer multiplications for this output size. */
export function winogradTile(outHeight: number, outWidth: number): 2 | 4 {
  const cost = (m: number) => (m + 2) ** 2 * Math.ceil(outHeight / m) * Math.ceil(outWidth / m);
  return cost(4) <= cost(2) ? 4 : 2;
}

const padBottom = (g: ConvGeometry) => g.outHeight + g.filterHeight - 1 - g.inHeight - g.padTop;
const padRight = (g: ConvGeometry) => g.outWidth + g.filterWidth - 1 - g.inWidth - g.padLeft;

/** Whether the Winograd kernels take this convolution (forward and both gradients). */
export function winogradSupports(g: ConvGeometry): boolean {
  return (
    g.filterHeight === 3 &&
    g.filterWidth === 3 &&
    g.inChannels % 8 === 0 &&
    g.outChannels % 8 === 0 &&
    g.padTop >= 0 &&
    g.padTop <= 2 &&
    g.padLeft >= 0 &&
    g.padLeft <= 2 &&
    padBottom(g) >= 0 &&
    padBottom(g) <= 2 &&
    padRight(g) >= 0 &&
    padRight(g) <= 2 &&
    g.outHeight >= 1 &&
    g.outWidth >= 1
  );
}

/** Whether the direct kernel takes this convolution's forward pass and filter gradient. */
export function directSupports(g: ConvGeometry): boolean {
  return (
    g.outChannels % 8 === 0 &&
    g.padTop >= 0 &&
    g.padLeft >= 0 &&
    padBottom(g) >= 0 &&
    padRight(g) >= 0 &&
    g.outHeight >= 1 &&
    g.outWidth >= 1
  );
}

/**
 * Winograd convolution of x (N×H×W×C, at xPtr) with filter transform U (α²×C×Co, at uPtr), pad
 * (padTop, padLeft), into y (N×outH×outW×Co, at yPtr).
 */
function winogradForward(
  kernels: ConvKernels,
  m: 2 | 4,
  x: { ptr: number; batch: number; height: number; width: number; channels: number },
  padTop: number,
  padLeft: number,
  uPtr: number,
  outChannels: number,
  y: { ptr: number; height: number; width: number },
): void {
  const { k } = kernels;
  const xi = (m + 2) ** 2;
  const { th, tw, hp, wp } = tiling(m, 1, y.height, y.width);
  const cb = x.channels * 4;
  const imageBytes = hp * wp * cb;
  const group = imagesPerGroup(x.batch, imageBytes);
  const block = Math.min(WINOGRAD_BLOCK_TILES, group * th * tw);
  const inStride = block * cb;
  const outStride = block * outChannels * 4;
  const input = m === 4 ? k.win4_in : k.win2_in;
  const output = m === 4 ? k.win4_out : k.win2_out;
  kernels.withScratch([group * imageBytes, xi * inStride, xi * outStride], (P, V, M) => {
    forImageGroups(x.batch, group, (first, count) => {
      const images = imagesOf(x.ptr, x.height, x.width, x.channels, first, count);
      const yPtr = y.ptr + first * y.height * y.width * outChannels * 4;
      padInto(kernels, images, P!, count * imageBytes, hp, wp, padTop, padLeft);
      const tiles = count * th * tw;
      for (let t0 = 0; t0 < tiles; t0 += block) {
        const n = Math.min(block, tiles - t0);
        input(P!, x.channels, wp, hp, th, tw, t0, n, V!, inStride);
        for (let e = 0; e < xi; e++) {
          k.gemm(
            V! + e * inStride,
            0,
            cb,
            4,
            uPtr + e * x.channels * outChannels * 4,
            outChannels * 4,
            M! + e * outStride,
            outChannels * 4,
            n,
            outChannels,
            x.channels,
            1,
            0,
          );
        }
        output(M!, outStride, outChannels, t0, n, th, tw, y.height, y.width, yPtr);
      }
    });
  });
}

/** conv2d forward: y = x ⊛ filter (filter 3×3×Ci×Co at fPtr), by Winograd. */
export function winogradConv2d(
  kernels: ConvKernels,
  g: ConvGeometry,
  xPtr: number,
  fPtr: number,
  yPtr: number,
): void {
  const m = winogradTile(g.outHeight, g.outWidth);
  const xi = (m + 2) ** 2;
  const { k } = kernels;
  kernels.withScratch([xi * g.inChannels * g.outChannels * 4], (U) => {
    (m === 4 ? k.win4_filter : k.win2_filter)(fPtr, g.inChannels, g.outChannels, U!);
    winogradForward(
      kernels,
      m,
      { ptr: xPtr, batch: g.batch, height: g.inHeight, width: g.inWidth, channels: g.inChannels },
      g.padTop,
      g.padLeft,
      U!,
      g.outChannels,
      { ptr: yPtr, height: g.outHeight, width: g.outWidth },
    );
  });
}

/**
 * dL/dx of a conv2d, by Winograd: the convolution of dy (padded by 2 − pad) with the spatially
 * flipped, in/out-transposed filter, written to dx (N×H×W×Ci at dxPtr).
 */
export function winogradConv2dInputGradient(
  kernels: ConvKernels,
  g: ConvGeometry,
  dyPtr: number,
  fPtr: number,
  dxPtr: number,
): void {
  const { inChannels: ci, outChannels: co } = g;
  const m = winogradTile(g.inHeight, g.inWidth);
  const xi = (m + 2) ** 2;
  const { k } = kernels;
  kernels.withScratch([9 * ci * co * 4, xi * ci * co * 4], (F, U) => {
    // flipped[ky][kx][co][ci] = filter[2 − ky][2 − kx][ci][co]
    const heap = kernels.heap();
    for (let tap = 0; tap < 9; tap++) {
      const src = (fPtr >> 2) + (8 - tap) * ci * co;
      const dst = (F! >> 2) + tap * ci * co;
      for (let i = 0; i < ci; i++) {
        for (let o = 0; o < co; o++) heap[dst + o * ci + i] = heap[src + i * co + o]!;
      }
    }
    (m === 4 ? k.win4_filter : k.win2_filter)(F!, co, ci, U!);
    winogradForward(
      kernels,
      m,
      { ptr: dyPtr, batch: g.batch, height: g.outHeight, width: g.outWidth, channels: co },
      2 - g.padTop,
      2 - g.padLeft,
      U!,
      ci,
      { ptr: dxPtr, height: g.inHeight, width: g.inWidth },
    );
  });
}

/** dL/dfilter of a conv2d (3×3×Ci×Co at dfPtr), by Winograd over the output tiles. */
export function winogradConv2dFilterGradient(
  kernels: ConvKernels,
  g: ConvGeometry,
  xPtr: number,
  dyPtr: number,
  dfPtr: number,
): void {
  const { inChannels: ci, outChannels: co, batch } = g;
  const m = winogradTile(g.outHeight, g.outWidth);
  const xi = (m + 2) ** 2;
  const { th, tw, hp, wp } = tiling(m, 1, g.outHeight, g.outWidth);
  const cb = ci * 4;
  const imageBytes = hp * wp * cb;
  const group = imagesPerGroup(batch, imageBytes);
  const block = Math.min(WINOGRAD_BLOCK_TILES, group * th * tw);
  const inStride = block * cb;
  const dyStride = block * co * 4;
  const { k } = kernels;
  const input = m === 4 ? k.win4_in : k.win2_in;
  const gradient = m === 4 ? k.win4_dy : k.win2_dy;
  kernels.withScratch([group * imageBytes, xi * inStride, xi * dyStride, xi * ci * co * 4], (P, V, D, dU) => {
    k.zero(dU!, xi * ci * co * 4);
    forImageGroups(batch, group, (first, count) => {
      const x = imagesOf(xPtr, g.inHeight, g.inWidth, ci, first, count);
      const dy = imagesOf(dyPtr, g.outHeight, g.outWidth, co, first, count).ptr;
      padInto(kernels, x, P!, count * imageBytes, hp, wp, g.padTop, g.padLeft);
      const tiles = count * th * tw;
      for (let t0 = 0; t0 < tiles; t0 += block) {
        const n = Math.min(block, tiles - t0);
        input(P!, ci, wp, hp, th, tw, t0, n, V!, inStride);
        gradient(dy, co, g.outHeight, g.outWidth, th, tw, t0, n, D!, dyStride);
        for (let e = 0; e < xi; e++) {
          k.gemm(
            V! + e * inStride,
            0,
            4,
            cb,
            D! + e * dyStride,
            co * 4,
            dU! + e * ci * co * 4,
            co * 4,
            ci,
            co,
            n,
            1,
            1,
          );
        }
      }
    });
    (m === 4 ? k.win4_filter_grad : k.win2_filter_grad)(dfPtr, ci, co, dU!);
  });
}

/**
 * conv2d forward by the direct kernel: per output row, one strided GEMM over the padded input
 * (the fh filter rows as GEMM groups), written straight into y. Rows are computed in 4-row tiles
 * rounded up: a row's extra outputs land on the next row's first ones, which that row then
 * overwrites, so only the batch's last row takes the single-row path.
 */
export function directConv2d(
  kernels: ConvKernels,
  g: ConvGeometry,
  xPtr: number,
  fPtr: number,
  yPtr: number,
): void {
  const { batch, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = g;
  const { hp, wp, cb, group, padded } = directLayout(g);
  const { k } = kernels;
  const rowBytes = g.outWidth * co * 4;
  const tiled = Math.ceil(g.outWidth / 4) * 4;
  kernels.withScratch([padded], (P) => {
    forImageGroups(batch, group, (first, count) => {
      const x = imagesOf(xPtr, g.inHeight, g.inWidth, ci, first, count);
      padInto(kernels, x, P!, padded, hp, wp, g.padTop, g.padLeft);
      const rows = count * g.outHeight;
      const lastGroup = first + count === batch;
      for (let r = 0; r < rows; r++) {
        const n = Math.floor(r / g.outHeight);
        const a = P! + (n * hp + (r - n * g.outHeight)) * wp * cb;
        const m = lastGroup && r === rows - 1 ? g.outWidth : tiled;
        k.gemm(
          a,
          wp * cb,
          cb,
          4,
          fPtr,
          co * 4,
          yPtr + (first * g.outHeight + r) * rowBytes,
          co * 4,
          m,
          co,
          fw * ci,
          fh,
          0,
        );
      }
    });
  });
}

/** dL/dfilter by the direct kernel: per filter row, a GEMM of input windows with the gridded dy. */
export function directConv2dFilterGradient(
  kernels: ConvKernels,
  g: ConvGeometry,
  xPtr: number,
  dyPtr: number,
  dfPtr: number,
): void {
  const { batch, inChannels: ci, outChannels: co, filterHeight: fh, filterWidth: fw } = g;
  const { hp, wp, cb, group, padded, grid } = directLayout(g);
  const { k } = kernels;
  // A filter row's fw·Ci gradient rows go through the GEMM's 4-row tiles, rounded up to a multiple
  // of 4 (the extra rows read the next input values, which the padded copy has, and are dropped):
  // one pass over dy per filter row instead of one per single-row remainder.
  const rows = fw * ci;
  const tiledRows = Math.ceil(rows / 4) * 4;
  const rowBytes = co * 4;
  kernels.withScratch([padded, grid, fh * tiledRows * rowBytes], (P, D, S) => {
    k.zero(S!, fh * tiledRows * rowBytes);
    forImageGroups(batch, group, (first, count) => {
      const x = imagesOf(xPtr, g.inHeight, g.inWidth, ci, first, count);
      const dy = imagesOf(dyPtr, g.outHeight, g.outWidth, co, first, count);
      padInto(kernels, x, P!, padded, hp, wp, g.padTop, g.padLeft);
      padInto(kernels, dy, D!, grid, hp, wp, 0, 0);
      const positions = count * hp * wp;
      for (let q0 = 0; q0 < positions; q0 += DIRECT_GRADIENT_CHUNK) {
        const n = Math.min(DIRECT_GRADIENT_CHUNK, positions - q0);
        for (let ky = 0; ky < fh; ky++) {
          k.gemm(
            P! + (ky * wp + q0) * cb,
            0,
            4,
            cb,
            D! + q0 * rowBytes,
            rowBytes,
            S! + ky * tiledRows * rowBytes,
            rowBytes,
            tiledRows,
            co,
            n,
            1,
            1,
          );
        }
      }
    });
    k.copy_rows(S!, tiledRows * rowBytes, 0, dfPtr, rows * rowBytes, 0, 1, fh, rows * rowBytes);
  });
}

/**
 * The geometry of a conv2d for these kernels from tfjs's conv info, or null when they do not take
 * it (stride or dilation other than 1, NCHW).
 */
export function geometryOf(info: tf.backend_util.Conv2DInfo): ConvGeometry | null {
  if (
    info.strideHeight !== 1 ||
    info.strideWidth !== 1 ||
    info.dilationHeight !== 1 ||
    info.dilationWidth !== 1 ||
    info.dataFormat !== 'channelsLast'
  ) {
    return null;
  }
  return {
    batch: info.batchSize,
    inHeight: info.inHeight,
    inWidth: info.inWidth,
    inChannels: info.inChannels,
    outHeight: info.outHeight,
    outWidth: info.outWidth,
    outChannels: info.outChannels,
    filterHeight: info.filterHeight,
    filterWidth: info.filterWidth,
    padTop: info.padInfo.top,
    padLeft: info.padInfo.left,
  };
}

/** A convolution pass of these kernels: (kernels, geometry, first input, second input, output). */
export type ConvPass = (kernels: ConvKernels, g: ConvGeometry, a: number, b: number, out: number) => void;

/**
 * Which of these kernels runs each pass of a convolution with this geometry, or null for a pass
 * they do not take (the caller's fallback runs): Winograd where it applies, else the direct kernel
 * for the forward pass and the filter gradient; the input gradient is Winograd only.
 */
export function convPasses(g: ConvGeometry): {
  forward: ConvPass | null;
  inputGradient: ConvPass | null;
  filterGradient: ConvPass | null;
} {
  if (winogradSupports(g)) {
    return {
      forward: winogradConv2d,
      inputGradient: winogradConv2dInputGradient,
      filterGradient: winogradConv2dFilterGradient,
    };
  }
  const direct = directSupports(g);
  return {
    forward: direct ? directConv2d : null,
    inputGradient: null,
    filterGradient: direct ? directConv2dFilterGradient : null,
  };
}
