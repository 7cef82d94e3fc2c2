/**
 * Projects a sample of test embeddings and the class anchors to 2-D with UMAP and writes the
 * points the Results page draws as its embedding map. Not run by the build (UMAP takes a while and
 * is seeded but slow): run it by hand after a training run, and commit its output.
 *
 * node --conditions=@anchorage/source --import tsx scripts/embedding-map.ts \
 *   --embeddings runs/test.npy --labels runs/test.labels.npy --bundle runs/bundle \
 *   --count 1000 --seed 1 --out data/embedding-map.json [--source "…how the inputs were made…"]
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Random } from '@anchorage/loss-core';
import { readNpy } from '@anchorage/retrieval';
import { UMAP } from 'umap-js';

function arg(name: string, fallback?: string): string {
  const at = process.argv.indexOf(`--${name}`);
  const value = at >= 0 ? process.argv[at + 1] : fallback;
  if (value === undefined) throw new Error(`--${name} is required`);
  return value;
}

const embeddings = await readNpy(arg('embeddings'));
const labels = await readNpy(arg('labels'));
const bundle = arg('bundle');
const count = Number(arg('count', '1000'));
const seed = Number(arg('seed', '1'));
const [n, dim] = embeddings.shape as [number, number];
const manifest = JSON.parse(await readFile(join(bundle, 'manifest.json'), 'utf8')) as { classes: string[] };
const anchors = (JSON.parse(await readFile(join(bundle, 'anchors.json'), 'utf8')) as { anchors: number[][] })
  .anchors;

// a seeded sample without repetition, in index order
const rng = new Random(seed);
const order = Array.from({ length: n }, (_, i) => i);
for (let i = 0; i < count; i++) {
  const j = i + rng.nextInt(n - i);
  [order[i], order[j]] = [order[j]!, order[i]!];
}
const sample = order.slice(0, count).sort((a, b) => a - b);
const rows = sample.map((i) => Array.from(embeddings.data.subarray(i * dim, (i + 1) * dim) as Float32Array));

// anchors are projected together with the points, so they land in the same map
const umap = new UMAP({ nComponents: 2, nNeighbors: 15, minDist: 0.1, random: () => rng.nextFloat() });
const projected = umap.fit([...rows, ...anchors]);
const round = (v: number) => Math.round(v * 1000) / 1000;
const out = {
  source: arg('source', ''),
  command: `scripts/embedding-map.ts ${process.argv
    .slice(2)
    .filter((_, i, all) => all[i] !== '--source' && all[i - 1] !== '--source')
    .join(' ')}`,
  classes: manifest.classes,
  points: sample.map((index, k) => ({
    index,
    label: Number(labels.data[index]),
    x: round(projected[k]![0]!),
    y: round(projected[k]![1]!),
  })),
  anchors: anchors.map((_, c) => ({
    label: c,
    x: round(projected[count + c]![0]!),
    y: round(projected[count + c]![1]!),
  })),
};
await writeFile(arg('out'), `${JSON.stringify(out)}\n`);
console.log(`wrote ${out.points.length} points and ${out.anchors.length} anchors to ${arg('out')}`);
