import { readFile as fsReadFile, stat as fsStat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { systemReason } from '../file/system-reason.js';
import { parseNpy } from '../npy/npy.js';
import type { ItemId } from '../types.js';
import { decodingFile } from '../validate.js';

/** Vectors read from a file, with whatever ids and labels the file itself carries. */
export interface VectorsInput {
  dim: number;
  vectors: Float32Array;
  ids?: ItemId[];
  labels?: number[];
}

function fail(message: string, argument: string, value?: unknown): never {
  throw new AnchorageError('INVALID_ARGUMENT', message, { argument, value });
}

function readError(path: string, argument: string, cause: unknown): AnchorageError {
  return new AnchorageError('NOT_FOUND', `cannot read ${path}: ${systemReason(cause)}`, {
    argument,
    value: path,
    cause,
  });
}

/** `readFile` whose failure is one line naming the file and the option it came from. */
async function readFile(path: string, argument: string): Promise<Buffer>;
async function readFile(path: string, argument: string, encoding: 'utf8'): Promise<string>;
async function readFile(path: string, argument: string, encoding?: 'utf8'): Promise<Buffer | string> {
  try {
    return encoding ? await fsReadFile(path, encoding) : await fsReadFile(path);
  } catch (cause) {
    throw readError(path, argument, cause);
  }
}

async function isDirectory(path: string, argument: string): Promise<boolean> {
  try {
    return (await fsStat(path)).isDirectory();
  } catch (cause) {
    throw readError(path, argument, cause);
  }
}

/** Parses JSON text, or throws one line naming the file. */
function parseJson(text: string, path: string, argument: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    fail(`${path} is not valid JSON`, argument);
  }
}

/**
 * Reads vectors from `.npy` (float32, shape [n, d]), raw `.f32`/`.bin` (little-endian float32
 * rows, `dim` required) or `.jsonl` (one `{"id"?, "vector": [...], "label"?}` per line).
 */
export async function readVectors(path: string, dim?: number): Promise<VectorsInput> {
  const extension = extname(path).toLowerCase();
  if (extension === '.npy') {
    const bytes = await readFile(path, 'vectors');
    const array = decodingFile(path, () => parseNpy(bytes));
    if (array.dtype !== '<f4' || array.shape.length !== 2) {
      fail(
        `${path} must hold a 2-D float32 array [n, d], got ${array.dtype} of shape (${array.shape.join(', ')})`,
        'vectors',
      );
    }
    if (dim !== undefined && array.shape[1] !== dim)
      fail(`${path} has d = ${array.shape[1]}, --dim says ${dim}`, 'dim');
    return { dim: array.shape[1]!, vectors: array.data as Float32Array };
  }
  if (extension === '.jsonl' || extension === '.ndjson') {
    const lines = (await readFile(path, 'vectors', 'utf8'))
      .split('\n')
      .filter((line) => line.trim().length > 0);
    const rows: number[][] = [];
    const ids: ItemId[] = [];
    const labels: number[] = [];
    let labelled = 0;
    lines.forEach((line, i) => {
      let record: { id?: unknown; vector?: unknown; label?: unknown };
      try {
        record = JSON.parse(line);
      } catch {
        fail(`${path} line ${i + 1} is not JSON`, 'vectors', line.slice(0, 80));
      }
      if (!Array.isArray(record.vector)) fail(`${path} line ${i + 1} has no "vector" array`, 'vectors');
      rows.push(record.vector as number[]);
      ids.push(record.id === undefined ? i : (record.id as ItemId));
      if (record.label !== undefined) labelled++;
      labels.push(record.label === undefined ? -1 : Number(record.label));
    });
    const d = dim ?? rows[0]?.length ?? 0;
    if (d < 1) fail(`${path} holds no vectors`, 'vectors');
    const vectors = new Float32Array(rows.length * d);
    rows.forEach((row, i) => {
      if (row.length !== d) fail(`${path} line ${i + 1} has ${row.length} numbers, expected ${d}`, 'vectors');
      vectors.set(row, i * d);
    });
    if (labelled !== 0 && labelled !== rows.length)
      fail(`${path}: give a label on every line or on none`, 'labels');
    return { dim: d, vectors, ids, labels: labelled === 0 ? undefined : labels };
  }
  if (dim === undefined) fail(`${path}: raw float32 vectors need --dim`, 'dim');
  const bytes = await readFile(path, 'vectors');
  if (bytes.length % (4 * dim) !== 0)
    fail(`${path} has ${bytes.length} bytes, not whole rows of ${dim} float32`, 'vectors');
  return {
    dim,
    vectors: new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)),
  };
}

/** Reads labels from `.npy` (any integer or float dtype, 1-D), `.json` (an array) or text (one per line). */
export async function readLabels(path: string): Promise<number[]> {
  const extension = extname(path).toLowerCase();
  if (extension === '.npy') {
    const bytes = await readFile(path, 'labels');
    const array = decodingFile(path, () => parseNpy(bytes));
    if (array.shape.length !== 1)
      fail(`${path} must be 1-D, got shape (${array.shape.join(', ')})`, 'labels');
    return Array.from(array.data as ArrayLike<number>);
  }
  const text = await readFile(path, 'labels', 'utf8');
  if (extension === '.json') {
    const array = parseJson(text, path, 'labels');
    if (!Array.isArray(array)) fail(`${path} must hold a JSON array of labels`, 'labels');
    return array.map(Number);
  }
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line.length > 0)
    .map(Number);
}

/** Reads ids, one per line (kept as strings). */
export async function readIds(path: string): Promise<string[]> {
  return (await readFile(path, 'ids', 'utf8')).split('\n').filter((line) => line.length > 0);
}

/**
 * Reads anchors from a model bundle folder (its `anchors.json`), an `anchors.json`-shaped file
 * (`{ "dim": d, "anchors": [[…], …] }`) or a `.npy` float32 [C, d].
 */
export async function readAnchors(path: string): Promise<{ dim: number; anchors: Float32Array }> {
  const file = (await isDirectory(path, 'anchors')) ? join(path, 'anchors.json') : path;
  if (extname(file).toLowerCase() === '.npy') {
    const bytes = await readFile(file, 'anchors');
    const array = decodingFile(file, () => parseNpy(bytes));
    if (array.shape.length !== 2) fail(`${file} must be 2-D [C, d]`, 'anchors');
    return { dim: array.shape[1]!, anchors: Float32Array.from(array.data as ArrayLike<number>) };
  }
  const json = (parseJson(await readFile(file, 'anchors', 'utf8'), file, 'anchors') ?? {}) as {
    dim?: number;
    anchors?: number[][];
  };
  if (!Array.isArray(json.anchors) || json.anchors.length === 0)
    fail(`${file} has no "anchors" rows`, 'anchors');
  const dim = json.dim ?? json.anchors[0]!.length;
  const anchors = new Float32Array(json.anchors.length * dim);
  json.anchors.forEach((row, c) => {
    if (!Array.isArray(row) || row.length !== dim)
      fail(`${file}: anchor ${c} does not have ${dim} numbers`, 'anchors');
    anchors.set(row, c * dim);
  });
  return { dim, anchors };
}

/** Parses "0.1,0.2,…" into a Float32Array. */
export function parseVector(text: string): Float32Array {
  return Float32Array.from(text.split(',').map((s) => Number(s.trim())));
}
