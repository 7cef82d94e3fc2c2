/**
 * Serves a model bundle with anchorage-serve (packages/server, from source), adds the first 200
 * Fashion-MNIST test images as items by image (PNG, labelled) and sends the next 20 as image
 * queries; prints how often the nearest item and the nearest anchor have the query's class.
 * Usage (in packages/trainer): tsx --conditions=@anchorage/source bench/serve-check.ts BUNDLE [--port N] [--data DIR]
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import sharp from 'sharp';

const args = process.argv.slice(2);
const option = (name: string, fallback: string) => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const bundle = args[0]!;
const port = option('port', '18431');
const data = option('data', process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist');
const images = gunzipSync(readFileSync(join(data, 't10k-images-idx3-ubyte.gz'))).subarray(16);
const labels = gunzipSync(readFileSync(join(data, 't10k-labels-idx1-ubyte.gz'))).subarray(8);
const png = async (i: number) =>
  (
    await sharp(Buffer.from(images.subarray(i * 784, (i + 1) * 784)), {
      raw: { width: 28, height: 28, channels: 1 },
    })
      .png()
      .toBuffer()
  ).toString('base64');

const serverDir = fileURLToPath(new URL('../../server', import.meta.url));
const server = spawn(
  process.execPath,
  [
    '--conditions=@anchorage/source',
    '--import',
    'tsx',
    'src/cli.ts',
    '--bundle',
    bundle,
    '--port',
    port,
    '--log-level',
    'warn',
  ],
  {
    cwd: serverDir,
    env: { ...process.env, ANCHORAGE_API_KEYS: 'bench' },
    stdio: ['ignore', 'inherit', 'pipe'],
  },
);
await new Promise<void>((resolve) =>
  server.stderr!.on('data', (d: Buffer) => {
    if (String(d).includes('listening')) resolve();
  }),
);
const base = `http://127.0.0.1:${port}`;
try {
  for (let t = 0; t < 200 && !(await fetch(`${base}/readyz`)).ok; t++)
    await new Promise((r) => setTimeout(r, 250));
  const items = [];
  for (let i = 0; i < 200; i++) items.push({ id: `fm-${i}`, image: await png(i), label: labels[i] });
  const put = await fetch(`${base}/v1/items`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer bench' },
    body: JSON.stringify({ items }),
  });
  if (!put.ok) throw new Error(`adding items: ${put.status} ${await put.text()}`);
  let nearestItem = 0;
  let nearestAnchor = 0;
  for (let q = 200; q < 220; q++) {
    const r = await fetch(`${base}/v1/search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ image: await png(q), k: 5, probe: 10 }),
    });
    const body = (await r.json()) as { results: { label: number }[]; anchors: { class: number }[] };
    if (body.results[0]?.label === labels[q]) nearestItem++;
    if (body.anchors[0]?.class === labels[q]) nearestAnchor++;
  }
  console.log(
    `${bundle}: 200 items added by image; 20 image queries: nearest item of the query's class ${nearestItem}/20, nearest anchor ${nearestAnchor}/20`,
  );
} finally {
  server.kill('SIGTERM');
}
