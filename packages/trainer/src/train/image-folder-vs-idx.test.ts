import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fashionMnistDir } from '@anchorage/loss-core/testing';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allImages, forEachConcurrent, isStreaming, loadDataset, openSplit } from '../data';
import { writeIdxSplit } from '../data/idx-test-support';
import { evaluateCheckpoint } from './evaluate';
import { train } from './train';

// Fashion-MNIST from $FASHION_MNIST_DIR or Debian's package; CI requires it (ANCHORAGE_REQUIRE_FIXTURES)
const hasData = fashionMnistDir() !== undefined;
const root = await mkdtemp(join(tmpdir(), 'anchorage-folder-vs-idx-'));
const idxDir = join(root, 'idx');
const folder = join(root, 'folder');
const cacheDir = join(root, 'cache');
const counts = { train: 2000, test: 500 } as const;
afterAll(() => rm(root, { recursive: true, force: true }));

/**
 * The first 2,000 training and 500 test images of Fashion-MNIST, written twice: as IDX files, and
 * as an image folder of greyscale PNGs (`<label>/<split>-<index>.png`) whose split files list them
 * in the IDX order, so both runs see the same images in the same order.
 */
beforeAll(async () => {
  if (!hasData) return;
  await mkdir(idxDir, { recursive: true });
  for (const split of ['train', 'test'] as const) {
    const full = await loadDataset({ name: 'fashion-mnist', split });
    const n = counts[split];
    const images = full.images.slice(0, n * 784);
    const labels = Uint8Array.from(full.labels.slice(0, n));
    await writeIdxSplit(idxDir, split, images, labels);
    for (let c = 0; c < 10; c++) await mkdir(join(folder, String(c)), { recursive: true });
    const lines: string[] = [];
    for (let i = 0; i < n; i++) lines.push(`${labels[i]}/${split}-${String(i).padStart(5, '0')}.png`);
    await forEachConcurrent(n, 8, async (i) => {
      const png = await sharp(images.subarray(i * 784, (i + 1) * 784), {
        raw: { width: 28, height: 28, channels: 1 },
      })
        .png()
        .toBuffer();
      await writeFile(join(folder, lines[i]!), png);
    });
    await writeFile(join(folder, `${split}.txt`), `${lines.join('\n')}\n`);
  }
});

describe.skipIf(!hasData)('Fashion-MNIST as an image folder of PNGs and as IDX files', () => {
  it('decodes to identical tensors, trains to identical weights and evaluates to the same mAP', async () => {
    const folderInput = { imageSize: 28, channels: 1 };
    for (const split of ['train', 'test'] as const) {
      const idx = await loadDataset({ name: 'fashion-mnist', dir: idxDir, split });
      const png = await openSplit({ name: 'image-folder', dir: folder, split, input: folderInput, cacheDir });
      expect(isStreaming(png)).toBe(true);
      expect(png.labels).toEqual(idx.labels);
      expect(Buffer.from(allImages(png)).equals(Buffer.from(idx.images))).toBe(true);
      if (isStreaming(png)) png.close();
    }

    const common = { epochs: 1, batchSize: 125, dim: 16, seed: 4, backend: 'wasm' };
    const runIdx = join(root, 'run-idx');
    const runFolder = join(root, 'run-folder');
    await train({ ...common, dataset: 'fashion-mnist', data: idxDir }, { out: runIdx, quiet: true });
    process.env.ANCHORAGE_CACHE_DIR = cacheDir;
    try {
      await train(
        { ...common, dataset: 'image-folder', data: folder, ...folderInput },
        { out: runFolder, quiet: true },
      );
      const weights = await Promise.all(
        [runIdx, runFolder].map((r) => readFile(join(r, 'checkpoint', 'weights.bin'))),
      );
      expect(weights[1]!.equals(weights[0]!)).toBe(true);
      const [a, b] = [
        await evaluateCheckpoint({ checkpoint: runIdx }),
        await evaluateCheckpoint({ checkpoint: runFolder }),
      ];
      expect(a).toMatchObject({ databaseSize: 2000, querySize: 500 });
      expect(b).toMatchObject({ databaseSize: 2000, querySize: 500 });
      expect(a.mAP).toBeGreaterThan(0.2);
      expect(b.mAP).toBe(a.mAP);
      expect(b.twoStage[0]!.mAP).toBe(a.twoStage[0]!.mAP);
    } finally {
      delete process.env.ANCHORAGE_CACHE_DIR;
    }
  });
});
