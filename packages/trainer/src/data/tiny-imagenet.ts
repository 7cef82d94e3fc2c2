import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { AnchorageError } from '@anchorage/loss-core';
import type { DatasetLoader, Split } from './dataset';
import { readLines } from './food101';
import type { ImageList } from './image-cache';

/**
 * Lists one split of Tiny ImageNet (the paper's ImageNet-200): classes from `wnids.txt`, named by
 * the first synonym in `words.txt`; training images `train/<wnid>/images/*.JPEG`; the test split is
 * `val/images/*.JPEG` labelled by `val/val_annotations.txt` (`<file>\t<wnid>\t…`).
 */
export async function listTinyImageNet(root: string, split: Split): Promise<ImageList> {
  const dir = existsSync(join(root, 'tiny-imagenet-200')) ? join(root, 'tiny-imagenet-200') : root;
  const wnids = await readLines(join(dir, 'wnids.txt'));
  const index = new Map(wnids.map((w, i) => [w, i]));
  const words = new Map<string, string>();
  const wordsPath = join(dir, 'words.txt');
  if (existsSync(wordsPath)) {
    for (const line of await readLines(wordsPath)) {
      const [wnid, text = ''] = line.split('\t');
      if (wnid && index.has(wnid)) words.set(wnid, text.split(',')[0]!.trim());
    }
  }
  const classes = wnids.map((w) => words.get(w) || w);
  const files: string[] = [];
  const labels: number[] = [];
  if (split === 'train') {
    for (const [label, wnid] of wnids.entries()) {
      const folder = join(dir, 'train', wnid, 'images');
      let names: string[];
      try {
        names = (await readdir(folder)).filter((n) => extname(n).toUpperCase() === '.JPEG').sort();
      } catch (cause) {
        throw new AnchorageError('NOT_FOUND', `cannot read ${folder} (class ${wnid} of wnids.txt)`, {
          argument: 'data',
          value: folder,
          cause,
        });
      }
      if (names.length === 0) {
        throw new AnchorageError('CORRUPT_FILE', `the class folder ${folder} holds no .JPEG images`, {
          argument: 'data',
          value: folder,
        });
      }
      for (const name of names) {
        files.push(join(folder, name));
        labels.push(label);
      }
    }
  } else {
    const annotations = join(dir, 'val', 'val_annotations.txt');
    (await readLines(annotations)).forEach((line, i) => {
      const [file, wnid] = line.split('\t');
      const label = wnid === undefined ? undefined : index.get(wnid);
      if (!file || label === undefined) {
        throw new AnchorageError(
          'CORRUPT_FILE',
          `${annotations} line ${i + 1}: "${line}" is not <file>\\t<wnid of wnids.txt>`,
          { argument: 'file', value: annotations },
        );
      }
      files.push(join(dir, 'val', 'images', file));
      labels.push(label);
    });
  }
  return {
    kind: 'image-list',
    name: 'tiny-imagenet',
    split,
    files,
    labels: Int32Array.from(labels),
    classes,
  };
}

/** `tiny-imagenet`: Tiny ImageNet's 200 classes of 64×64 photos; `val/` is the test split. */
export const tinyImageNetLoader: DatasetLoader = {
  name: 'tiny-imagenet',
  description:
    'Tiny ImageNet (ImageNet-200), 64×64×3, 200 classes (wnids.txt, train/<wnid>/images, val/ as test)',
  defaults: { imageSize: 64, channels: 3, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  load: ({ dir, split }) => listTinyImageNet(dir, split),
};
