import { mkdir, mkdtemp, readdir, rm, truncate, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fitImage } from './fit';
import { listImageFolder } from './image-folder';
import { openSplit } from './registry';
import { allImages, isStreaming, type StreamingSplit } from './split';

const root = await mkdtemp(join(tmpdir(), 'anchorage-folder-'));
const cacheDir = join(root, 'cache');
afterAll(() => rm(root, { recursive: true, force: true }));

/** A w×h image whose every pixel is `rgb` (plus alpha when given), encoded as `format`. */
async function solid(
  path: string,
  format: 'png' | 'jpeg' | 'webp',
  rgb: [number, number, number],
  options: { width?: number; height?: number; grey?: boolean; alpha?: number } = {},
): Promise<void> {
  const { width = 10, height = 6 } = options;
  const channels = options.grey ? 1 : options.alpha !== undefined ? 4 : 3;
  const pixel = options.grey ? [rgb[0]] : options.alpha !== undefined ? [...rgb, options.alpha] : rgb;
  const data = Uint8Array.from({ length: width * height * channels }, (_, i) => pixel[i % channels]!);
  const image = sharp(data, { raw: { width, height, channels } });
  const encoded =
    format === 'png'
      ? image.png()
      : format === 'jpeg'
        ? image.jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
        : image.webp({ lossless: true });
  await writeFile(path, await encoded.toBuffer());
}

const flat = join(root, 'flat');
beforeAll(async () => {
  // 3 classes of 5 images each, three formats, grey and RGBA among them
  for (const [c, cls] of ['cat', 'dog', 'émeu'].entries()) {
    await mkdir(join(flat, cls), { recursive: true });
    for (let i = 0; i < 5; i++) {
      const format = (['png', 'jpeg', 'webp'] as const)[i % 3]!;
      const value = 40 * c + 10 * i;
      await solid(
        join(flat, cls, `${i}.${format === 'jpeg' ? 'jpg' : format}`),
        format,
        [value, value, value],
        {
          grey: i === 3,
          ...(i === 4 ? { alpha: 255 } : {}),
        },
      );
    }
  }
  await writeFile(join(flat, 'cat', 'notes.txt'), 'not an image');
});

describe('listImageFolder', () => {
  it('root/<class>/…: sorted class names, every image labelled, a seeded stratified test fraction', async () => {
    const train = await listImageFolder(flat, 'train', { testFraction: 0.4, seed: 7 });
    const test = await listImageFolder(flat, 'test', { testFraction: 0.4, seed: 7 });
    expect(train.classes).toEqual(['cat', 'dog', 'émeu']);
    expect(test.classes).toEqual(train.classes);
    expect(Array.from(test.labels)).toEqual([0, 0, 1, 1, 2, 2]);
    expect(Array.from(train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    const all = [...train.files, ...test.files].sort();
    expect(new Set(all).size).toBe(15);
    expect(all.some((f) => f.endsWith('.txt'))).toBe(false);
    for (const [i, file] of test.files.entries())
      expect(file).toContain(join(flat, test.classes[test.labels[i]!]!));
    // the same seed draws the same split, another seed another one
    expect((await listImageFolder(flat, 'test', { testFraction: 0.4, seed: 7 })).files).toEqual(test.files);
    const other = await Promise.all(
      [8, 9, 10].map((seed) => listImageFolder(flat, 'test', { testFraction: 0.4, seed })),
    );
    expect(other.some((o) => o.files.join() !== test.files.join())).toBe(true);
  });

  it('root/train/<class> + root/test/<class>, and split files train.txt / test.txt', async () => {
    const split = join(root, 'split');
    for (const [part, n] of [
      ['train', 3],
      ['test', 1],
    ] as const)
      for (const cls of ['a', 'b']) {
        await mkdir(join(split, part, cls), { recursive: true });
        for (let i = 0; i < n; i++) await solid(join(split, part, cls, `${i}.png`), 'png', [i, i, i]);
      }
    const test = await listImageFolder(split, 'test');
    expect(test.classes).toEqual(['a', 'b']);
    expect(test.files).toEqual([join(split, 'test', 'a', '0.png'), join(split, 'test', 'b', '0.png')]);
    expect((await listImageFolder(split, 'train')).labels.length).toBe(6);

    const listed = join(root, 'listed');
    await mkdir(join(listed, 'x'), { recursive: true });
    await mkdir(join(listed, 'y'), { recursive: true });
    for (const name of ['x/1.png', 'x/2.png', 'y/3.png']) await solid(join(listed, name), 'png', [1, 2, 3]);
    await writeFile(join(listed, 'train.txt'), 'x/1.png\ny/3.png\n');
    await writeFile(join(listed, 'test.txt'), 'x/2.png\n');
    const train = await listImageFolder(listed, 'train');
    expect(train.files).toEqual([join(listed, 'x/1.png'), join(listed, 'y/3.png')]);
    expect(Array.from(train.labels)).toEqual([0, 1]);
    await writeFile(join(listed, 'test.txt'), 'x/2.png\nz/9.png\n');
    await expect(listImageFolder(listed, 'test')).rejects.toThrow(/test\.txt line 2: "z\/9\.png"/);
    await rm(join(listed, 'test.txt'));
    await expect(listImageFolder(listed, 'test')).rejects.toMatchObject({
      code: 'NOT_FOUND',
      message: expect.stringContaining('test.txt is missing'),
    });
  });

  it('a class folder without images is an error naming it, or left out with skipBadImages', async () => {
    const holey = join(root, 'holey');
    await mkdir(join(holey, 'empty'), { recursive: true });
    await mkdir(join(holey, 'full'), { recursive: true });
    await solid(join(holey, 'full', '1.png'), 'png', [0, 0, 0]);
    await solid(join(holey, 'full', '2.png'), 'png', [0, 0, 0]);
    await expect(listImageFolder(holey, 'train')).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      message: expect.stringContaining(join(holey, 'empty')),
    });
    const kept = await listImageFolder(holey, 'train', { skipBadImages: true });
    expect(kept.classes).toEqual(['full']);
  });
});

describe('openSplit on an image folder', () => {
  it('decodes every format to the asked size and channels, grey and RGBA converted, streamed from the cache', async () => {
    const logs: string[] = [];
    const open = (channels: number) =>
      openSplit({
        name: 'image-folder',
        dir: flat,
        split: 'train',
        testFraction: 0.4,
        seed: 7,
        input: { imageSize: 4, channels, fit: 'fill' },
        cacheDir,
        log: (line) => logs.push(line),
      });
    const rgb = (await open(3)) as StreamingSplit;
    expect(isStreaming(rgb)).toBe(true);
    expect([rgb.height, rgb.width, rgb.channels, rgb.labels.length]).toEqual([4, 4, 3, 9]);
    const list = await listImageFolder(flat, 'train', { testFraction: 0.4, seed: 7 });
    const pixels = allImages(rgb);
    for (let i = 0; i < list.files.length; i++) {
      const { readFile } = await import('node:fs/promises');
      const expected = await fitImage(new Uint8Array(await readFile(list.files[i]!)), {
        height: 4,
        width: 4,
        channels: 3,
        fit: 'fill',
      });
      expect(Array.from(pixels.subarray(i * 48, (i + 1) * 48))).toEqual(Array.from(expected));
    }
    // solid images stay solid: a grey value v is (v, v, v) whatever the file's format or channels
    const file = list.files.findIndex((f) => f.endsWith('3.png')); // a grey PNG
    expect(file).toBeGreaterThanOrEqual(0);
    const value = 40 * list.labels[file]! + 30;
    expect(new Set(pixels.subarray(file * 48, (file + 1) * 48))).toEqual(new Set([value]));
    rgb.close();
    expect(logs.some((l) => l.includes('decoded 9/9'))).toBe(true);

    logs.length = 0;
    const again = (await open(3)) as StreamingSplit;
    expect(logs.some((l) => l.includes('from the cache'))).toBe(true);
    expect(allImages(again)).toEqual(pixels);
    again.close();
    const grey = (await open(1)) as StreamingSplit;
    expect(grey.channels).toBe(1);
    expect(allImages(grey)[file * 16]).toBe(value);
    grey.close();
    // the cache holds one data file and its description per split and geometry
    const files = await readdir(cacheDir);
    expect(files.filter((f) => f.endsWith('.u8')).length).toBe(2);
  });

  it('an edited image invalidates the cache; a zero-byte or corrupt image is named, or skipped and counted', async () => {
    const bad = join(root, 'bad');
    for (const part of ['train', 'test'])
      for (const cls of ['p', 'q']) {
        await mkdir(join(bad, part, cls), { recursive: true });
        for (let i = 0; i < 3; i++) await solid(join(bad, part, cls, `${i}.png`), 'png', [50, 60, 70]);
      }
    const open = (skipBadImages?: boolean) =>
      openSplit({
        name: 'image-folder',
        dir: bad,
        split: 'train',
        input: { imageSize: 2 },
        cacheDir,
        ...(skipBadImages ? { skipBadImages } : {}),
      }) as Promise<StreamingSplit>;
    (await open()).close();
    const empty = join(bad, 'train', 'q', '1.png');
    await truncate(empty, 0);
    await utimes(empty, new Date(), new Date(Date.now() + 5000));
    await expect(open()).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      message: expect.stringContaining(`${empty} is empty`),
    });
    await truncate(empty, 0);
    await solid(empty, 'png', [50, 60, 70]);
    const corrupt = join(bad, 'train', 'p', '0.png');
    await writeFile(corrupt, Buffer.from('\x89PNG\r\n\x1a\n garbage'));
    await expect(open()).rejects.toMatchObject({
      code: 'CORRUPT_FILE',
      message: expect.stringContaining(`cannot decode image ${corrupt}`),
    });
    await truncate(empty, 0);
    const logs: string[] = [];
    const skipped = (await openSplit({
      name: 'image-folder',
      dir: bad,
      split: 'train',
      input: { imageSize: 2 },
      cacheDir,
      skipBadImages: true,
      log: (line) => logs.push(line),
    })) as StreamingSplit;
    expect(Array.from(skipped.labels)).toEqual([0, 0, 1, 1]);
    expect(logs.some((l) => l.includes('skipped 2 unreadable images'))).toBe(true);
    expect(new Set(allImages(skipped))).toEqual(new Set([50, 60, 70]));
    skipped.close();
    // the cache remembers the skipped ones: without the flag the error names the first
    await expect(open()).rejects.toThrow(/2 images .* cannot be decoded .*--skip-bad-images/);
  });

  it('--no-cache decodes into a temporary file that is removed on close', async () => {
    const before = new Set(await readdir(tmpdir()));
    const split = (await openSplit({
      name: 'image-folder',
      dir: flat,
      split: 'test',
      input: { imageSize: 3 },
      cache: false,
    })) as StreamingSplit;
    const created = (await readdir(tmpdir())).filter((f) => !before.has(f) && f.endsWith('.u8'));
    expect(created.length).toBe(1);
    expect(allImages(split).length).toBe(split.labels.length * 27);
    split.close();
    expect((await readdir(tmpdir())).includes(created[0]!)).toBe(false);
  });
});
