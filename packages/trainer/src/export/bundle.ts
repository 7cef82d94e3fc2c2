import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';

/** The manifest format this package writes and reads. */
export const BUNDLE_FORMAT_VERSION = 1;

/** File names inside a model bundle folder. */
export const BUNDLE_FILES = {
  manifest: 'manifest.json',
  anchors: 'anchors.json',
  model: 'model.onnx',
} as const;

/** What `model.onnx` expects: NHWC images of this size (see apps/docs/src/concepts/artifacts.md). */
export interface BundleInput {
  height: number;
  width: number;
  channels: number;
  /** Per-channel mean of `pixel / 255` (1 or `channels` numbers). */
  mean: number[];
  /** Per-channel standard deviation of `pixel / 255`, > 0 (1 or `channels` numbers). */
  std: number[];
  /**
   * true: `model.onnx` takes raw 0–255 pixels and computes `(x/255 − mean)/std` itself (what this
   * package exports); false: the caller normalises first.
   */
  normalizedInGraph?: boolean;
  /**
   * How an image of another size is resized to height×width (`cover`, `contain`, `fill`, `pad`),
   * as training and evaluation resized theirs; absent: `fill`.
   */
  fit?: 'cover' | 'contain' | 'fill' | 'pad';
}

/**
 * `manifest.json` of a model bundle. Only `formatVersion`, `dim` and `classes` are required;
 * unknown fields are kept as they are.
 */
export interface BundleManifest {
  formatVersion: 1;
  /** Embedding size d. */
  dim: number;
  /** Class names, indexed by label; one anchor per class. */
  classes: string[];
  input?: BundleInput;
  loss?: Record<string, unknown>;
  training?: Record<string, unknown>;
  metrics?: Record<string, unknown>;
  [extra: string]: unknown;
}

/** A model bundle in memory. */
export interface ModelBundle {
  manifest: BundleManifest;
  /** Anchors, C×d row-major (C = manifest.classes.length). */
  anchors: Float32Array;
  /** The serialised ONNX model (image → embedding), absent in a vectors-only bundle. */
  model?: Uint8Array;
}

function corrupt(where: string, message: string, value: unknown): AnchorageError {
  return new AnchorageError('CORRUPT_FILE', `${where}: ${message}`, { argument: 'bundle', value });
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function positiveInteger(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value > 0;
}

function finiteList(value: unknown): value is number[] {
  return (
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((v) => typeof v === 'number' && Number.isFinite(v))
  );
}

/**
 * Checks a parsed `manifest.json` and returns it typed; `where` prefixes error messages (a path).
 * Throws AnchorageError `UNSUPPORTED_VERSION` for a newer format, `CORRUPT_FILE` naming the field.
 */
export function validateManifest(value: unknown, where: string = BUNDLE_FILES.manifest): BundleManifest {
  if (!isRecord(value)) throw corrupt(where, 'must be a JSON object', value);
  const { formatVersion, dim, classes, input } = value;
  if (
    typeof formatVersion === 'number' &&
    Number.isInteger(formatVersion) &&
    formatVersion > BUNDLE_FORMAT_VERSION
  ) {
    throw new AnchorageError(
      'UNSUPPORTED_VERSION',
      `${where}: formatVersion ${formatVersion} is newer than this version understands (${BUNDLE_FORMAT_VERSION})`,
      { argument: 'bundle', value: formatVersion },
    );
  }
  if (formatVersion !== BUNDLE_FORMAT_VERSION) throw corrupt(where, 'formatVersion must be 1', formatVersion);
  if (!positiveInteger(dim)) throw corrupt(where, 'dim must be a positive integer', dim);
  if (!Array.isArray(classes) || classes.length === 0 || classes.some((c) => typeof c !== 'string')) {
    throw corrupt(where, 'classes must be a non-empty array of strings', classes);
  }
  if (input !== undefined) {
    if (!isRecord(input)) throw corrupt(where, 'input must be an object', input);
    for (const key of ['height', 'width', 'channels'] as const) {
      if (!positiveInteger(input[key]))
        throw corrupt(where, `input.${key} must be a positive integer`, input[key]);
    }
    const channels = input.channels as number;
    for (const key of ['mean', 'std'] as const) {
      const list = input[key];
      if (list === undefined) continue;
      if (!finiteList(list) || (list.length !== 1 && list.length !== channels)) {
        throw corrupt(where, `input.${key} must be 1 or ${channels} finite numbers`, list);
      }
      if (key === 'std' && list.some((s) => s <= 0)) throw corrupt(where, 'input.std must be > 0', list);
    }
    if (input.fit !== undefined && !['cover', 'contain', 'fill', 'pad'].includes(input.fit as string)) {
      throw corrupt(where, 'input.fit must be cover, contain, fill or pad', input.fit);
    }
    if (input.normalizedInGraph !== undefined && typeof input.normalizedInGraph !== 'boolean') {
      throw corrupt(where, 'input.normalizedInGraph must be a boolean', input.normalizedInGraph);
    }
  }
  for (const key of ['loss', 'training', 'metrics'] as const) {
    if (value[key] !== undefined && !isRecord(value[key]))
      throw corrupt(where, `${key} must be an object`, value[key]);
  }
  return value as BundleManifest;
}

/**
 * Checks a parsed `anchors.json` against the manifest and returns the anchors C×d row-major.
 */
export function validateAnchors(
  value: unknown,
  manifest: BundleManifest,
  where: string = BUNDLE_FILES.anchors,
): Float32Array {
  if (!isRecord(value)) throw corrupt(where, 'must be a JSON object', value);
  const { dim, anchors } = value;
  if (dim !== manifest.dim)
    throw corrupt(where, `dim ${String(dim)} differs from the manifest's ${manifest.dim}`, dim);
  if (!Array.isArray(anchors) || anchors.length !== manifest.classes.length) {
    throw corrupt(
      where,
      `anchors must hold one row per class (${manifest.classes.length})`,
      Array.isArray(anchors) ? anchors.length : anchors,
    );
  }
  const out = new Float32Array(anchors.length * manifest.dim);
  anchors.forEach((row: unknown, c) => {
    if (!Array.isArray(row) || row.length !== manifest.dim || !finiteList(row)) {
      throw corrupt(where, `row ${c} must be ${manifest.dim} finite numbers`, c);
    }
    out.set(row, c * manifest.dim);
  });
  return out;
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read ${path}`, { argument: 'bundle', value: path, cause });
  }
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new AnchorageError('CORRUPT_FILE', `${path} is not valid JSON`, {
      argument: 'bundle',
      value: path,
      cause,
    });
  }
}

/**
 * Reads and validates the bundle folder `dir`: `manifest.json`, `anchors.json` and, when present,
 * `model.onnx` (its bytes are read unless `loadModel` is false; `modelPath` is set either way).
 */
export async function readBundle(
  dir: string,
  options: { loadModel?: boolean } = {},
): Promise<ModelBundle & { modelPath?: string }> {
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  const manifest = validateManifest(await readJson(manifestPath), manifestPath);
  const anchorsPath = join(dir, BUNDLE_FILES.anchors);
  const anchors = validateAnchors(await readJson(anchorsPath), manifest, anchorsPath);
  const modelPath = join(dir, BUNDLE_FILES.model);
  const hasModel = await stat(modelPath).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!hasModel) return { manifest, anchors };
  if (manifest.input === undefined) {
    throw corrupt(manifestPath, 'the bundle has model.onnx, so the manifest needs "input"', dir);
  }
  if (options.loadModel === false) return { manifest, anchors, modelPath };
  return { manifest, anchors, modelPath, model: new Uint8Array(await readFile(modelPath)) };
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, data);
  await rename(temporary, path);
}

/**
 * Validates a bundle and writes it into `dir` (created if needed; existing bundle files are
 * replaced, each through a temporary file and a rename). Nothing is written when validation fails.
 * A bundle without `model` removes a stale `model.onnx`.
 */
export async function writeBundle(dir: string, bundle: ModelBundle): Promise<void> {
  const manifest = validateManifest(structuredClone(bundle.manifest), 'manifest');
  const { anchors } = bundle;
  if (!(anchors instanceof Float32Array) || anchors.length !== manifest.classes.length * manifest.dim) {
    throw new AnchorageError(
      'DIMENSION_MISMATCH',
      `anchors must be a Float32Array of classes × dim = ${manifest.classes.length * manifest.dim} numbers`,
      { argument: 'anchors', value: anchors?.length },
    );
  }
  if (!anchors.every(Number.isFinite)) {
    throw new AnchorageError('NON_FINITE', 'anchors hold a NaN or infinite value', { argument: 'anchors' });
  }
  if (bundle.model !== undefined && manifest.input === undefined) {
    throw new AnchorageError('INVALID_ARGUMENT', 'a bundle with a model needs manifest.input', {
      argument: 'manifest',
      value: manifest,
    });
  }
  const rows = Array.from({ length: manifest.classes.length }, (_, c) =>
    Array.from(anchors.subarray(c * manifest.dim, (c + 1) * manifest.dim)),
  );
  await mkdir(dir, { recursive: true });
  await writeAtomically(
    join(dir, BUNDLE_FILES.anchors),
    `${JSON.stringify({ dim: manifest.dim, anchors: rows })}\n`,
  );
  if (bundle.model === undefined) await rm(join(dir, BUNDLE_FILES.model), { force: true });
  else await writeAtomically(join(dir, BUNDLE_FILES.model), bundle.model);
  // the manifest last: a reader that finds it finds the files it describes
  await writeAtomically(join(dir, BUNDLE_FILES.manifest), `${JSON.stringify(manifest, null, 2)}\n`);
}
