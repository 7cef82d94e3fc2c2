import { type Dirent, existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import { Random } from '../random';
import type { DatasetLoader, FormatOptions, Split } from './dataset';
import type { ImageList } from './image-cache';

/** File extensions read as images (case-insensitive). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.jpg', '.jpeg', '.png', '.webp'];

const isImage = (name: string) => IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return await readdir(dir, { withFileTypes: true });
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read the folder ${dir}`, {
      argument: 'data',
      value: dir,
      cause,
    });
  }
}

/** The sub-folders of `dir`, sorted (hidden ones left out). */
async function subfolders(dir: string): Promise<string[]> {
  return (await entries(dir))
    .filter((e) => e.isDirectory() && !e.name.startsWith('.'))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/** The image files of one class folder, sorted by name. */
async function imagesIn(dir: string): Promise<string[]> {
  return (await entries(dir))
    .filter((e) => e.isFile() && isImage(e.name))
    .map((e) => e.name)
    .sort(byCodePoint);
}

/**
 * Files and labels of `root/<class>/*` for the given classes; a class folder without images
 * throws naming it (or is left with none under `skipBadImages`).
 */
async function classFiles(
  root: string,
  classes: readonly string[],
  options: { skipBadImages?: boolean; required: boolean },
): Promise<{ files: string[][] }> {
  const files: string[][] = [];
  for (const name of classes) {
    const dir = join(root, name);
    const names = existsSync(dir) ? await imagesIn(dir) : [];
    if (names.length === 0 && options.required && !options.skipBadImages) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `the class folder ${dir} holds no images (${IMAGE_EXTENSIONS.join(', ')}); pass --skip-bad-images to leave it out`,
        { argument: 'data', value: dir },
      );
    }
    files.push(names.map((n) => join(dir, n)));
  }
  return { files };
}

function list(name: string, split: Split, classes: readonly string[], perClass: string[][]): ImageList {
  const files = perClass.flat();
  const labels = new Int32Array(files.length);
  let at = 0;
  perClass.forEach((members, label) => {
    labels.fill(label, at, at + members.length);
    at += members.length;
  });
  return { kind: 'image-list', name, split, files, labels, classes };
}

/** Drops the classes that have no files (under `skipBadImages`), keeping the others' order. */
function nonEmpty(
  classes: readonly string[],
  perClass: string[][],
): { classes: string[]; perClass: string[][] } {
  const keep = classes.map((_, c) => perClass[c]!.length > 0);
  return { classes: classes.filter((_, c) => keep[c]), perClass: perClass.filter((_, c) => keep[c]) };
}

/**
 * Reads a split file: one image path per line, relative to `root`, whose first folder is the class
 * (`<class>/<file>`), kept in the file's order. Blank lines are ignored; a class not in `classes`
 * throws naming the line.
 */
async function splitFile(
  root: string,
  path: string,
  classes: readonly string[],
): Promise<{ files: string[]; labels: Int32Array }> {
  const text = await readFile(path, 'utf8');
  const index = new Map(classes.map((c, i) => [c, i]));
  const files: string[] = [];
  const labels: number[] = [];
  text.split(/\r?\n/).forEach((raw, line) => {
    const entry = raw.trim();
    if (entry === '') return;
    const cls = entry.split('/')[0]!;
    const label = index.get(cls);
    if (label === undefined || !entry.includes('/')) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `${path} line ${line + 1}: "${entry}" is not <class>/<file> with one of the ${classes.length} class folders`,
        { argument: 'file', value: path },
      );
    }
    files.push(join(root, entry));
    labels.push(label);
  });
  return { files, labels: Int32Array.from(labels) };
}

/** Per class, the seeded draw of `round(n × fraction)` test images (at least one left for training). */
function holdOut(perClass: string[][], fraction: number, seed: number, split: Split): string[][] {
  const rng = new Random(seed);
  return perClass.map((members) => {
    const order = rng.shuffle(Int32Array.from({ length: members.length }, (_, i) => i));
    const tests = Math.min(Math.round(members.length * fraction), Math.max(members.length - 1, 0));
    const chosen = split === 'test' ? order.subarray(0, tests) : order.subarray(tests);
    return Array.from(chosen)
      .sort((a, b) => a - b)
      .map((i) => members[i]!);
  });
}

/**
 * Lists one split of an image folder. Layouts, tried in this order:
 * `root/train/<class>/…` and `root/test/<class>/…`; `root/<class>/…` with split files
 * `root/train.txt` and `root/test.txt` (lines `<class>/<file>`); `root/<class>/…` alone, split by a
 * seeded, stratified `testFraction` (default 0.2) of each class.
 */
export async function listImageFolder(
  root: string,
  split: Split,
  options: FormatOptions & { name?: string } = {},
): Promise<ImageList> {
  const name = options.name ?? 'image-folder';
  const top = await subfolders(root);
  if (top.includes('train') && top.includes('test')) {
    const classes = await subfolders(join(root, 'train'));
    if (classes.length === 0) {
      throw new AnchorageError('NOT_FOUND', `${join(root, 'train')} has no class folders`, {
        argument: 'data',
        value: root,
      });
    }
    const trainFiles = (await classFiles(join(root, 'train'), classes, { ...options, required: true })).files;
    const kept = nonEmpty(classes, trainFiles);
    if (split === 'train') return list(name, split, kept.classes, kept.perClass);
    const extra = (await subfolders(join(root, 'test'))).filter((c) => !classes.includes(c));
    if (extra.length > 0) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `${join(root, 'test', extra[0]!)} is a class that ${join(root, 'train')} does not have`,
        { argument: 'data', value: join(root, 'test', extra[0]!) },
      );
    }
    const testFiles = (await classFiles(join(root, 'test'), kept.classes, { required: false })).files;
    return list(name, split, kept.classes, testFiles);
  }
  if (top.length === 0) {
    throw new AnchorageError('NOT_FOUND', `${root} has no class folders (expected <class>/<image> files)`, {
      argument: 'data',
      value: root,
    });
  }
  const trainTxt = join(root, 'train.txt');
  const testTxt = join(root, 'test.txt');
  if (existsSync(trainTxt) || existsSync(testTxt)) {
    const path = split === 'train' ? trainTxt : testTxt;
    if (!existsSync(path)) {
      throw new AnchorageError('NOT_FOUND', `the split file ${path} is missing (its pair exists)`, {
        argument: 'data',
        value: path,
      });
    }
    return { kind: 'image-list', name, split, classes: top, ...(await splitFile(root, path, top)) };
  }
  const fraction = options.testFraction ?? 0.2;
  if (!(fraction > 0 && fraction < 1)) {
    throw new AnchorageError('INVALID_ARGUMENT', `testFraction must be in (0, 1), got ${fraction}`, {
      argument: 'testFraction',
      value: fraction,
    });
  }
  const all = nonEmpty(top, (await classFiles(root, top, { ...options, required: true })).files);
  return list(name, split, all.classes, holdOut(all.perClass, fraction, options.seed ?? 1, split));
}

/** `image-folder`: a user's own photos, one folder per class. */
export const imageFolderLoader: DatasetLoader = {
  name: 'image-folder',
  description: 'your own images: <dir>/<class>/*.{jpg,jpeg,png,webp} (or <dir>/train/… and <dir>/test/…)',
  defaults: { imageSize: 64, channels: 3, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  load: ({ dir, split, ...options }) => listImageFolder(dir, split, options),
};
