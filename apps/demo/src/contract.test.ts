import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resolveConfig, startServer } from '@anchorage/server';
import { createBundleEmbedder, loadDataset } from '@anchorage/trainer';
import { afterAll, describe, expect, it } from 'vitest';
import { runCli } from './children.js';
import { encodePng } from './thumbnails.js';

const work = mkdtempSync(join(tmpdir(), 'anchorage-contract-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

// The packages meet only through files and HTTP: a bundle written by the trainer's `export` must be
// served by the server and give an image query the embedding the trainer's own `embed` gives it.
describe('trainer → server contract', () => {
  it("an exported bundle serves image queries with the trainer's embeddings", async () => {
    const run = join(work, 'run');
    const bundle = join(work, 'bundle');
    const quiet = ['--quiet'];
    await runCli('@anchorage/trainer', [
      'train',
      '--dataset',
      'mnist',
      '--limit',
      '512',
      '--epochs',
      '1',
      '--out',
      run,
      ...quiet,
    ]);
    await runCli('@anchorage/trainer', ['export', '--checkpoint', run, '--out', bundle]);

    const train = await loadDataset({ name: 'mnist', split: 'train' });
    const count = 40;
    const size = train.height * train.width * train.channels;
    const embedder = await createBundleEmbedder(bundle);
    const embeddings = await embedder.embed(train.images.subarray(0, count * size), count);
    await embedder.release();
    const dim = embeddings.length / count;

    const server = await startServer(
      resolveConfig({ bundle, port: 0, apiKeys: ['contract-key'], logLevel: 'silent' }),
    );
    try {
      const base = `http://${server.host}:${server.port}`;
      const items = Array.from({ length: count }, (_, i) => ({
        id: `train-${i}`,
        vector: Array.from(embeddings.subarray(i * dim, (i + 1) * dim)),
        label: train.labels[i],
      }));
      const put = await fetch(`${base}/v1/items`, {
        method: 'POST',
        headers: { authorization: 'Bearer contract-key', 'content-type': 'application/json' },
        body: JSON.stringify({ items }),
      });
      expect(put.status).toBe(200);

      const layout = { height: train.height, width: train.width, channels: train.channels };
      for (const i of [0, 7, 23, 39]) {
        const png = await encodePng(train.images, i, layout);
        const response = await fetch(`${base}/v1/search`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ image: png.toString('base64'), k: 1, probe: 10 }),
        });
        expect(response.status).toBe(200);
        const { results } = (await response.json()) as { results: { id: string; distance: number }[] };
        // the server embedded the PNG itself; the nearest stored item is the trainer's embedding of
        // the same pixels, at (squared) distance zero up to float32 rounding
        expect(results[0]!.id).toBe(`train-${i}`);
        expect(results[0]!.distance).toBeLessThan(1e-8);
      }
    } finally {
      await server.close();
    }
  });
});
