import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Random } from '@anchorage/loss-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { allImages, isStreaming, openSplit } from '../data';
import { loadCheckpointModel, retrievalEmbeddings } from '../train/evaluate';

const root = await mkdtemp(join(tmpdir(), 'anchorage-serve-folder-'));
const photos = join(root, 'photos');
const env = {
  ...process.env,
  ANCHORAGE_CACHE_DIR: join(root, 'cache'),
  ANCHORAGE_API_KEYS: 'key-0123456789abcdef',
};
const COLOURS: Record<string, [number, number, number]> = {
  red: [200, 40, 30],
  green: [30, 180, 60],
  blue: [40, 50, 210],
};
const running: ChildProcess[] = [];
afterAll(async () => {
  for (const child of running) child.kill('SIGTERM');
  await rm(root, { recursive: true, force: true });
});

/** A noisy photo of mixed size and format whose dominant colour is its class. */
async function photo(
  path: string,
  colour: [number, number, number],
  rng: Random,
  format: 'jpeg' | 'png',
): Promise<Buffer> {
  const width = 24 + rng.nextInt(24);
  const height = 20 + rng.nextInt(24);
  const data = Uint8Array.from({ length: width * height * 3 }, (_, i) =>
    Math.max(0, Math.min(255, colour[i % 3]! + rng.nextInt(80) - 40)),
  );
  const image = sharp(data, { raw: { width, height, channels: 3 } });
  const bytes = await (format === 'jpeg' ? image.jpeg({ quality: 90 }) : image.png()).toBuffer();
  await writeFile(path, bytes);
  return bytes;
}

beforeAll(async () => {
  const rng = new Random(11);
  for (const [split, n] of [
    ['train', 10],
    ['test', 2],
  ] as const)
    for (const [name, colour] of Object.entries(COLOURS)) {
      await mkdir(join(photos, split, name), { recursive: true });
      for (let i = 0; i < n; i++)
        await photo(
          join(photos, split, name, `${i}.${i % 2 ? 'png' : 'jpg'}`),
          colour,
          rng,
          i % 2 ? 'png' : 'jpeg',
        );
    }
});

/** Runs a CLI from its TypeScript source; resolves with its exit code and output. */
function run(cli: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--conditions=@anchorage/source', '--import', 'tsx', cli, ...args], {
    cwd: join(import.meta.dirname, '..', '..'),
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (c) => (stdout += c));
  child.stderr!.on('data', (c) => (stderr += c));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

/** Starts `anchorage-serve` on a free port; resolves with its base URL once it listens. */
function serve(bundle: string): Promise<string> {
  const cli = join(import.meta.dirname, '..', '..', '..', 'server', 'src', 'cli.ts');
  const child = spawn(
    process.execPath,
    [
      '--conditions=@anchorage/source',
      '--import',
      'tsx',
      cli,
      '--bundle',
      bundle,
      '--port',
      '0',
      '--search-threads',
      '0',
    ],
    {
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  running.push(child);
  let output = '';
  return new Promise((resolve, reject) => {
    const look = (chunk: Buffer) => {
      output += chunk;
      const url = /listening on (http:\/\/\S+?)\/? /.exec(output)?.[1];
      if (url) resolve(url);
    };
    child.stdout!.on('data', look);
    child.stderr!.on('data', look);
    child.on('close', (code) => reject(new Error(`anchorage-serve exited ${code}: ${output}`)));
  });
}

describe('an image folder of RGB photos, trained, exported and served', () => {
  it('anchorage-train trains on the folder, the bundle answers photo queries in anchorage-serve as evaluation embeds them', async () => {
    const run1 = join(root, 'run');
    const bundle = join(root, 'bundle');
    const trained = await run('src/cli.ts', [
      'train',
      '--dataset',
      'image-folder',
      '--data',
      photos,
      '--image-size',
      '16',
      '--epochs',
      '4',
      '--batch-size',
      '10',
      '--dim',
      '8',
      '--seed',
      '3',
      '--backend',
      'wasm',
      '--out',
      run1,
      '--quiet',
    ]);
    expect(trained.code, trained.stderr).toBe(0);
    const exported = await run('src/cli.ts', ['export', '--checkpoint', run1, '--out', bundle]);
    expect(exported.code, exported.stderr).toBe(0);
    const manifest = JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8'));
    expect(manifest.classes).toEqual(['blue', 'green', 'red']);
    expect(manifest.input).toMatchObject({
      height: 16,
      width: 16,
      channels: 3,
      fit: 'cover',
      mean: [0.485, 0.456, 0.406],
    });

    // what evaluation sees: the test photos decoded from the cache, embedded by the tfjs model
    const test = await openSplit({
      name: 'image-folder',
      dir: photos,
      split: 'test',
      input: { imageSize: 16 },
      cacheDir: env.ANCHORAGE_CACHE_DIR,
    });
    const { model, state } = await loadCheckpointModel(run1);
    const expected = await retrievalEmbeddings(model, test, state);
    model.dispose();
    expect(allImages(test).length).toBe(6 * 16 * 16 * 3);
    if (isStreaming(test)) test.close();

    const url = await serve(bundle);
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${env.ANCHORAGE_API_KEYS}` };
    const ask = (path: string, method: string, body?: unknown) =>
      fetch(`${url}${path}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
    // the training photos go in by image, labelled; each test photo is then a query
    for (const [label, name] of ['blue', 'green', 'red'].entries())
      for (let i = 0; i < 10; i++) {
        const bytes = await readFile(join(photos, 'train', name, `${i}.${i % 2 ? 'png' : 'jpg'}`));
        const res = await ask(`/v1/items/${name}-${i}`, 'PUT', { image: bytes.toString('base64'), label });
        expect(res.status, await res.clone().text()).toBeLessThan(300);
      }
    let correct = 0;
    for (const [label, name] of ['blue', 'green', 'red'].entries())
      for (let i = 0; i < 2; i++) {
        const bytes = await readFile(join(photos, 'test', name, `${i}.${i % 2 ? 'png' : 'jpg'}`));
        const found = (await (
          await ask('/v1/search', 'POST', { image: bytes.toString('base64'), k: 5 })
        ).json()) as {
          results: { label: number }[];
        };
        correct += found.results.filter((r) => r.label === label).length;
        // the server's embedding of the photo is evaluation's, to float precision
        await ask(`/v1/items/q-${name}-${i}`, 'PUT', { image: bytes.toString('base64') });
        const stored = (await (await ask(`/v1/items/q-${name}-${i}`, 'GET')).json()) as { vector: number[] };
        const row = label * 2 + i;
        for (const [j, v] of stored.vector.entries())
          expect(Math.abs(v - expected[row * 8 + j]!)).toBeLessThan(1e-4);
        await ask(`/v1/items/q-${name}-${i}`, 'DELETE');
      }
    // colours this far apart: nearly every one of the 30 neighbours shares the query's class
    expect(correct).toBeGreaterThanOrEqual(27);
  });
});
