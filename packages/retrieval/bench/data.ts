import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';

/** A benchmark data set: database vectors with their class, anchors, and queries (row-major). */
export interface BenchData {
  name: string;
  dim: number;
  classes: number;
  /** n×dim */
  vectors: Float32Array;
  /** n class labels in 0..classes-1 */
  labels: Int32Array;
  /** classes×dim */
  anchors: Float32Array;
  /** q×dim */
  queries: Float32Array;
}

/** mulberry32: small, fast and seeded, so every run sees the same data. */
export function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller) from a uniform generator. */
export function gaussian(uniform: () => number): () => number {
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const u = 1 - uniform();
    const v = uniform();
    const r = Math.sqrt(-2 * Math.log(u));
    spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  };
}

/** Options of `clusteredData`. */
export interface ClusteredOptions {
  n: number;
  dim: number;
  classes: number;
  queries: number;
  /** Per-coordinate standard deviation of items around their class centre (centres have 1). */
  spread: number;
  seed: number;
}

/**
 * Balanced class-structured data: C centres with N(0, 1) coordinates (the anchors), n/C items per
 * class at centre + spread·N(0, 1), and queries drawn the same way from random classes.
 */
export function clusteredData(options: ClusteredOptions): BenchData {
  const { n, dim, classes, queries: q, spread, seed } = options;
  const normal = gaussian(random(seed));
  const uniform = random(seed ^ 0x5bd1e995);
  const anchors = new Float32Array(classes * dim);
  for (let i = 0; i < anchors.length; i++) anchors[i] = normal();
  const draw = (count: number, balanced: boolean) => {
    const vectors = new Float32Array(count * dim);
    const labels = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const c = balanced ? i % classes : Math.floor(uniform() * classes);
      labels[i] = c;
      for (let j = 0; j < dim; j++) vectors[i * dim + j] = anchors[c * dim + j]! + spread * normal();
    }
    return { vectors, labels };
  };
  const database = draw(n, true);
  const queries = draw(q, false).vectors;
  return {
    name: `clustered n=${n} d=${dim} C=${classes} spread=${spread} seed=${seed}`,
    dim,
    classes,
    vectors: database.vectors,
    labels: database.labels,
    anchors,
    queries,
  };
}

/** A parsed `.npy` array (C order, little-endian float32/float64/int32/int64 only). */
export interface NpyArray {
  shape: number[];
  data: Float32Array | Int32Array;
}

/** Reads a `.npy` file: float arrays become Float32Array, integer arrays Int32Array. */
export async function readNpy(path: string): Promise<NpyArray> {
  const bytes = await readFile(path);
  if (bytes.readUInt32BE(0) !== 0x934e554d || bytes.readUInt16BE(4) !== 0x5059)
    throw new Error(`${path}: not a .npy file`);
  const major = bytes[6]!;
  const headerLength = major === 1 ? bytes.readUInt16LE(8) : bytes.readUInt32LE(8);
  const start = major === 1 ? 10 : 12;
  const header = bytes.subarray(start, start + headerLength).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order':\s*True/.test(header);
  const shape = (/'shape':\s*\(([^)]*)\)/.exec(header)?.[1] ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  if (fortran) throw new Error(`${path}: Fortran-order arrays are not supported`);
  const count = shape.reduce((a, b) => a * b, 1);
  const body = bytes.subarray(start + headerLength);
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  switch (descr) {
    case '<f4': {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(i * 4, true);
      return { shape, data };
    }
    case '<f8': {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(i * 8, true);
      return { shape, data };
    }
    case '<i4': {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getInt32(i * 4, true);
      return { shape, data };
    }
    case '<i8': {
      const data = new Int32Array(count);
      for (let i = 0; i < count; i++) data[i] = Number(view.getBigInt64(i * 8, true));
      return { shape, data };
    }
    default:
      throw new Error(`${path}: dtype ${descr} is not supported (float32/float64/int32/int64)`);
  }
}

/**
 * Real embeddings: an n×d `.npy` and, optionally, n labels. The last `queries` rows (seeded
 * shuffle) become the queries; anchors are the class means of the rest (or the whole set's mean
 * per label). Without labels the set is one class.
 */
export async function npyData(
  vectorsPath: string,
  labelsPath: string | undefined,
  queries: number,
  seed: number,
): Promise<BenchData> {
  const array = await readNpy(vectorsPath);
  if (array.shape.length !== 2 || !(array.data instanceof Float32Array))
    throw new Error(`${vectorsPath}: expected a 2-D float array`);
  const [rows, dim] = array.shape as [number, number];
  let labels = new Int32Array(rows);
  if (labelsPath !== undefined) {
    const l = await readNpy(labelsPath);
    if (l.data.length !== rows) throw new Error(`${labelsPath}: ${l.data.length} labels for ${rows} vectors`);
    labels = Int32Array.from(l.data);
  }
  const classes = labels.reduce((m, x) => Math.max(m, x), 0) + 1;
  const order = Array.from({ length: rows }, (_, i) => i);
  const uniform = random(seed);
  for (let i = rows - 1; i > 0; i--) {
    const j = Math.floor(uniform() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const q = Math.min(queries, Math.floor(rows / 10));
  const n = rows - q;
  const vectors = new Float32Array(n * dim);
  const dbLabels = new Int32Array(n);
  const queryVectors = new Float32Array(q * dim);
  for (let i = 0; i < rows; i++) {
    const src = array.data.subarray(order[i]! * dim, (order[i]! + 1) * dim);
    if (i < n) {
      vectors.set(src, i * dim);
      dbLabels[i] = labels[order[i]!]!;
    } else queryVectors.set(src, (i - n) * dim);
  }
  const sums = new Float64Array(classes * dim);
  const counts = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const c = dbLabels[i]!;
    counts[c]!++;
    for (let j = 0; j < dim; j++) sums[c * dim + j]! += vectors[i * dim + j]!;
  }
  const anchors = new Float32Array(classes * dim);
  for (let c = 0; c < classes; c++)
    for (let j = 0; j < dim; j++) anchors[c * dim + j] = sums[c * dim + j]! / Math.max(1, counts[c]!);
  return {
    name: `npy ${basename(vectorsPath)} n=${n} d=${dim} C=${classes}`,
    dim,
    classes,
    vectors,
    labels: dbLabels,
    anchors,
    queries: queryVectors,
  };
}

/**
 * `clusteredData`, kept in a file under the system's temporary folder after the first run (keyed
 * by the options), so a 1M-item run does not spend its time drawing normal samples again.
 */
export async function cachedClusteredData(options: ClusteredOptions, folder: string): Promise<BenchData> {
  const { n, dim, classes, queries: q, spread, seed } = options;
  const file = join(folder, `clustered-n${n}-d${dim}-c${classes}-q${q}-s${spread}-seed${seed}.f32`);
  const sizes = [classes * dim, n * dim, n, q * dim];
  const total = sizes.reduce((a, b) => a + b, 0) * 4;
  try {
    const bytes = await readFile(file);
    if (bytes.byteLength === total) {
      const floats = new Float32Array(bytes.buffer, bytes.byteOffset, total / 4);
      let at = 0;
      const take = (count: number) => floats.slice(at, (at += count));
      const anchors = take(sizes[0]!);
      const vectors = take(sizes[1]!);
      const labels = new Int32Array(take(sizes[2]!).buffer);
      const queries = take(sizes[3]!);
      return {
        name: `clustered n=${n} d=${dim} C=${classes} spread=${spread} seed=${seed}`,
        dim,
        classes,
        vectors,
        labels,
        anchors,
        queries,
      };
    }
  } catch {
    // not cached yet
  }
  const data = clusteredData(options);
  await mkdir(folder, { recursive: true });
  const out = new Uint8Array(total);
  let at = 0;
  for (const part of [data.anchors, data.vectors, data.labels, data.queries]) {
    out.set(new Uint8Array(part.buffer, part.byteOffset, part.byteLength), at);
    at += part.byteLength;
  }
  await writeFile(file, out);
  return data;
}
