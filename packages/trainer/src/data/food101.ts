import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { DatasetLoader, Split } from './dataset';
import type { ImageList } from './image-cache';

/** The non-empty trimmed lines of a text file, or a `NOT_FOUND` error naming it. */
export async function readLines(path: string): Promise<string[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (cause) {
    throw new AnchorageError('NOT_FOUND', `cannot read ${path}`, { argument: 'data', value: path, cause });
  }
  return text
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l !== '');
}

/**
 * Lists one split of Food-101: `meta/classes.txt` (class ids), `meta/train.txt` or
 * `meta/test.txt` (lines `<class>/<id>`), images at `images/<class>/<id>.jpg`. Class names are
 * `meta/labels.txt` when present (one per class, same order), else the ids.
 */
export async function listFood101(root: string, split: Split): Promise<ImageList> {
  const dir = existsSync(join(root, 'food-101')) ? join(root, 'food-101') : root;
  const ids = await readLines(join(dir, 'meta', 'classes.txt'));
  const labelsPath = join(dir, 'meta', 'labels.txt');
  const names = existsSync(labelsPath) ? await readLines(labelsPath) : ids;
  if (names.length !== ids.length) {
    throw new AnchorageError(
      'CORRUPT_FILE',
      `${labelsPath} names ${names.length} classes but meta/classes.txt lists ${ids.length}`,
      { argument: 'file', value: labelsPath },
    );
  }
  const index = new Map(ids.map((id, i) => [id, i]));
  const splitPath = join(dir, 'meta', `${split}.txt`);
  const entries = await readLines(splitPath);
  const files: string[] = [];
  const labels = new Int32Array(entries.length);
  entries.forEach((entry, line) => {
    const [cls, id] = entry.split('/');
    const label = cls === undefined ? undefined : index.get(cls);
    if (label === undefined || !id) {
      throw new AnchorageError(
        'CORRUPT_FILE',
        `${splitPath} line ${line + 1}: "${entry}" is not <class>/<id> with a class of meta/classes.txt`,
        { argument: 'file', value: splitPath },
      );
    }
    labels[line] = label;
    files.push(join(dir, 'images', cls!, `${id}.jpg`));
  });
  return { kind: 'image-list', name: 'food-101', split, files, labels, classes: names };
}

/** `food-101`: `images/<class>/<id>.jpg` with the `meta/` split files. */
export const food101Loader: DatasetLoader = {
  name: 'food-101',
  description:
    'Food-101, 101 classes of photos (images/<class>/<id>.jpg, meta/classes.txt, meta/train.txt, meta/test.txt)',
  defaults: { imageSize: 64, channels: 3, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  load: ({ dir, split }) => listFood101(dir, split),
};
