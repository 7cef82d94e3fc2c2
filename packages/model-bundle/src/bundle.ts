import { existsSync, readFileSync } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { BUNDLE_FILES, type BundleManifest, validateAnchors, validateManifest } from './manifest';

/** A model bundle in memory, as written. */
export interface ModelBundle {
  manifest: BundleManifest;
  /** Anchors, C×d row-major (C = manifest.classes.length). */
  anchors: Float32Array;
  /** The serialised ONNX model (image → embedding), absent in a vectors-only bundle. */
  model?: Uint8Array;
}

/** A model bundle read from its folder by {@link loadBundle}. */
export interface LoadedBundle {
  dir: string;
  manifest: BundleManifest;
  dim: number;
  classes: string[];
  /** C×dim row-major. */
  anchors: Float32Array;
  /** Path of `model.onnx`, or undefined when the bundle serves vector queries only. */
  modelPath: string | undefined;
}

function parseJson(text: string, path: string): unknown {
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

function notFound(path: string, cause: unknown): AnchorageError {
  return new AnchorageError('NOT_FOUND', `cannot read ${path}`, { argument: 'bundle', value: path, cause });
}

function needsInput(manifestPath: string, dir: string): AnchorageError {
  return new AnchorageError(
    'CORRUPT_FILE',
    `${manifestPath}: the bundle has model.onnx, so the manifest needs "input"`,
    { argument: 'bundle', value: dir },
  );
}

/**
 * Reads and validates the bundle folder `dir` synchronously (a server's start-up): `manifest.json`,
 * `anchors.json` and whether `model.onnx` is there. Throws `AnchorageError` (`NOT_FOUND`,
 * `CORRUPT_FILE`, `UNSUPPORTED_VERSION`) naming the file and field at fault.
 */
export function loadBundle(dir: string): LoadedBundle {
  const read = (path: string) => {
    try {
      return parseJson(readFileSync(path, 'utf8'), path);
    } catch (cause) {
      if (cause instanceof AnchorageError) throw cause;
      throw notFound(path, cause);
    }
  };
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  const manifest = validateManifest(read(manifestPath), manifestPath);
  const anchorsPath = join(dir, BUNDLE_FILES.anchors);
  const anchors = validateAnchors(read(anchorsPath), manifest, anchorsPath);
  const onnx = join(dir, BUNDLE_FILES.model);
  const modelPath = existsSync(onnx) ? onnx : undefined;
  if (modelPath && !manifest.input) throw needsInput(manifestPath, dir);
  return { dir, manifest, dim: manifest.dim, classes: manifest.classes, anchors, modelPath };
}

/**
 * Reads and validates the bundle folder `dir`: `manifest.json`, `anchors.json` and, when present,
 * `model.onnx` (its bytes are read unless `loadModel` is false; `modelPath` is set either way).
 */
export async function readBundle(
  dir: string,
  options: { loadModel?: boolean } = {},
): Promise<ModelBundle & { modelPath?: string }> {
  const read = async (path: string) =>
    parseJson(await readFile(path, 'utf8').catch((e) => Promise.reject(notFound(path, e))), path);
  const manifestPath = join(dir, BUNDLE_FILES.manifest);
  const manifest = validateManifest(await read(manifestPath), manifestPath);
  const anchorsPath = join(dir, BUNDLE_FILES.anchors);
  const anchors = validateAnchors(await read(anchorsPath), manifest, anchorsPath);
  const modelPath = join(dir, BUNDLE_FILES.model);
  const hasModel = await stat(modelPath).then(
    (s) => s.isFile(),
    () => false,
  );
  if (!hasModel) return { manifest, anchors };
  if (manifest.input === undefined) throw needsInput(manifestPath, dir);
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
 * replaced, each through a temporary file and a rename, the manifest last). Nothing is written
 * when validation fails. A bundle without `model` removes a stale `model.onnx`.
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
