import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir, tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { forEachConcurrent } from './convert';
import type { Split } from './dataset';
import { fitImage, type ImageGeometry } from './fit';
import { fileSplit, type StreamingSplit, subsetSplit } from './split';

/** A split given as image files and their labels (image folders, Food-101, Tiny ImageNet). */
export interface ImageList {
  readonly kind: 'image-list';
  readonly name: string;
  readonly split: Split;
  /** Paths of the encoded images (JPEG, PNG, WebP). */
  readonly files: readonly string[];
  /** A class index per file, in [0, classes.length). */
  readonly labels: Int32Array;
  readonly classes: readonly string[];
}

/** True for a loader result that lists files rather than holding pixels. */
export function isImageList(value: unknown): value is ImageList {
  return (value as ImageList | undefined)?.kind === 'image-list';
}

/** How {@link openImageList} decodes and caches. */
export interface ImageCacheOptions {
  /** Reuse and write the cache (default true); false decodes into a temporary file removed on close. */
  readonly cache?: boolean;
  /** Folder of the cache files; default `$ANCHORAGE_CACHE_DIR`, else `$XDG_CACHE_HOME/anchorage` or `~/.cache/anchorage`. */
  readonly cacheDir?: string;
  /** Leave out unreadable images (counted) instead of failing on the first. */
  readonly skipBadImages?: boolean;
  /** Images decoded at once (default 8: sharp runs them on libuv's thread pool, every core busy). */
  readonly concurrency?: number;
  readonly log?: (line: string) => void;
}

/** Bump when the cache's bytes for the same inputs change. */
const CACHE_VERSION = 1;

/** The default folder of decoded-image caches. */
export function defaultCacheDir(): string {
  if (process.env.ANCHORAGE_CACHE_DIR) return process.env.ANCHORAGE_CACHE_DIR;
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'anchorage', 'images');
}

interface CacheMeta {
  version: number;
  count: number;
  geometry: ImageGeometry;
  /** Indices (into the list) of the images left out as unreadable. */
  skipped: number[];
}

/** The cache key: the file list (paths, sizes, modification times), the labels and the geometry. */
async function cacheKey(list: ImageList, geometry: ImageGeometry): Promise<string> {
  const hash = createHash('sha256');
  hash.update(JSON.stringify({ version: CACHE_VERSION, geometry, classes: list.classes }));
  hash.update(new Uint8Array(list.labels.buffer, list.labels.byteOffset, list.labels.byteLength));
  const stamps = new Array<string>(list.files.length);
  await forEachConcurrent(list.files.length, 32, async (i) => {
    const file = list.files[i]!;
    const s = await stat(file).catch(() => undefined);
    stamps[i] = `${file}\0${s?.size ?? -1}\0${s?.mtimeMs ?? -1}`;
  });
  for (const stamp of stamps) hash.update(`${stamp}\n`);
  return hash.digest('hex').slice(0, 24);
}

/** Reads and decodes one file, naming it in the error. */
async function decodeFile(file: string, geometry: ImageGeometry): Promise<Uint8Array> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read image ${file}`, {
      argument: 'file',
      value: file,
      cause,
    });
  }
  if (bytes.length === 0) {
    throw new AnchorageError('CORRUPT_FILE', `image ${file} is empty (0 bytes)`, {
      argument: 'file',
      value: file,
    });
  }
  try {
    return await fitImage(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), geometry);
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
    throw new AnchorageError('CORRUPT_FILE', `cannot decode image ${file}: ${reason}`, {
      argument: 'file',
      value: file,
      cause,
    });
  }
}

/**
 * Decodes every image of `list` to `geometry` into one raw file (N × H × W × C bytes, written at
 * each image's position as decodes finish, several at once) and returns a split streaming from it.
 * The file is kept in the cache folder, keyed by the file list and the geometry, and reused by
 * the next epoch and the next run. An unreadable image throws `AnchorageError` naming the file,
 * or is left out (and counted in the log) with `skipBadImages`.
 */
export async function openImageList(
  list: ImageList,
  geometry: ImageGeometry,
  options: ImageCacheOptions = {},
): Promise<StreamingSplit> {
  const { height, width, channels } = geometry;
  const size = height * width * channels;
  const count = list.files.length;
  const log = options.log ?? (() => {});
  const info = {
    name: list.name,
    split: list.split,
    labels: list.labels,
    height,
    width,
    channels,
    classes: list.classes,
  };
  const useCache = options.cache !== false;
  const dir = useCache ? (options.cacheDir ?? defaultCacheDir()) : tmpdir();
  mkdirSync(dir, { recursive: true });
  const stem = useCache
    ? `${list.name}-${list.split}-${height}x${width}x${channels}-${await cacheKey(list, geometry)}`
    : `anchorage-${list.name}-${list.split}-${process.pid}-${Date.now().toString(36)}`;
  const dataPath = join(dir, `${stem}.u8`);
  const metaPath = join(dir, `${stem}.json`);
  const view = (meta: CacheMeta): StreamingSplit => {
    const all = fileSplit(dataPath, info, { removeOnClose: !useCache });
    if (meta.skipped.length === 0) return all;
    const skipped = new Set(meta.skipped);
    const kept = Array.from({ length: count }, (_, i) => i).filter((i) => !skipped.has(i));
    const sub = subsetSplit(all, kept) as StreamingSplit;
    return { ...sub, close: () => all.close() };
  };

  if (useCache) {
    const meta = await readFile(metaPath, 'utf8').then(
      (text) => JSON.parse(text) as CacheMeta,
      () => undefined,
    );
    const bytes = await stat(dataPath).then(
      (s) => s.size,
      () => -1,
    );
    if (meta && meta.version === CACHE_VERSION && meta.count === count && bytes === count * size) {
      if (meta.skipped.length > 0 && !options.skipBadImages) {
        throw new AnchorageError(
          'CORRUPT_FILE',
          `${meta.skipped.length} images of ${list.name} ${list.split} cannot be decoded (first: ${list.files[meta.skipped[0]!]}); pass --skip-bad-images to leave them out`,
          { argument: 'file', value: list.files[meta.skipped[0]!] },
        );
      }
      log(`${list.name} ${list.split}: ${count} decoded images from the cache ${basename(dataPath)}`);
      return view(meta);
    }
  }

  const temporary = `${dataPath}.${process.pid}.tmp`;
  const handle = await open(temporary, 'w');
  const skipped: number[] = [];
  const started = performance.now();
  let done = 0;
  let nextReport = 0.1;
  try {
    await handle.truncate(count * size);
    await forEachConcurrent(count, options.concurrency ?? 8, async (i) => {
      let pixels: Uint8Array;
      try {
        pixels = await decodeFile(list.files[i]!, geometry);
      } catch (error) {
        if (!options.skipBadImages) throw error;
        skipped.push(i);
        return;
      }
      await handle.write(pixels, 0, size, i * size);
      done += 1;
      if (done >= nextReport * count) {
        nextReport += 0.1;
        const seconds = (performance.now() - started) / 1000;
        log(`${list.name} ${list.split}: decoded ${done}/${count} (${(done / seconds).toFixed(0)} images/s)`);
      }
    });
  } catch (error) {
    await handle.close();
    await rm(temporary, { force: true });
    throw error;
  }
  await handle.close();
  await rename(temporary, dataPath);
  skipped.sort((a, b) => a - b);
  if (skipped.length > 0) {
    log(
      `${list.name} ${list.split}: skipped ${skipped.length} unreadable images (first: ${list.files[skipped[0]!]})`,
    );
  }
  if (skipped.length === count) {
    await rm(dataPath, { force: true });
    throw new AnchorageError(
      'CORRUPT_FILE',
      `none of the ${count} images of ${list.name} ${list.split} can be decoded`,
      {
        argument: 'data',
        value: list.files[0],
      },
    );
  }
  const meta: CacheMeta = { version: CACHE_VERSION, count, geometry, skipped };
  if (useCache) await writeFile(metaPath, `${JSON.stringify(meta)}\n`);
  return view(meta);
}
