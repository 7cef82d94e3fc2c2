/**
 * How the CAM defaults were chosen: short runs of refcnn on a seeded subset of the real
 * Fashion-MNIST with a few (margin, minNorm, lr, anchorLr) settings, each evaluated with the
 * protocol on subsets (database: 10,000 training images, queries: 2,000 test images).
 * Usage: tsx bench/cam-defaults.ts [--limit 6000] [--epochs 2] [--seed 1] [--only 0,3] [--data DIR]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { selectBackend } from '../src/backends/index';
import { limitIndices, loadDataset, subset } from '../src/data/index';
import { embedWithModel, loadCheckpointModel } from '../src/train/evaluate';
import { evaluateRetrieval } from '../src/train/retrieval-metrics';
import { train } from '../src/train/train';

const args = process.argv.slice(2);
const arg = (name: string, fallback: string): string => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1]! : fallback;
};
const limit = Number(arg('limit', '6000'));
const epochs = Number(arg('epochs', '2'));
const data = args.includes('--data') ? arg('data', '') : undefined;
const seed = Number(arg('seed', '1'));

const allSettings = [
  { margin: 1, minNorm: 1, lr: 1e-3, anchorLr: 1e-2 },
  { margin: 1, minNorm: 1, lr: 3e-3, anchorLr: 1e-2 },
  { margin: 1, minNorm: 1, lr: 1e-3, anchorLr: 1e-3 },
  { margin: 3, minNorm: 3, lr: 1e-3, anchorLr: 1e-2 },
];
const only = args.includes('--only') ? arg('only', '').split(',').map(Number) : undefined;
const settings = only ? allSettings.filter((_, i) => only.includes(i)) : allSettings;

await selectBackend('wasm', { log: () => {} });
const database = subset(
  await loadDataset({ name: 'fashion-mnist', dir: data, split: 'train' }),
  limitIndices(60000, 10000, 7),
);
const queries = subset(
  await loadDataset({ name: 'fashion-mnist', dir: data, split: 'test' }),
  limitIndices(10000, 2000, 7),
);
const root = await mkdtemp(join(tmpdir(), 'anchorage-defaults-'));
console.log(
  `refcnn d=64, B=128, seed ${seed}, ${limit} training images, ${epochs} epochs; database 10,000 train, queries 2,000 test`,
);
console.log('| margin | minNorm | lr | anchorLr | final loss | mAP | mAP@100 | P@10 | train s |');
console.log('|---|---|---|---|---|---|---|---|---|');
try {
  for (const [i, s] of settings.entries()) {
    const out = join(root, String(i));
    const started = performance.now();
    const result = await train(
      {
        dataset: 'fashion-mnist',
        data,
        limit,
        epochs,
        seed,
        lr: s.lr,
        lossLr: s.anchorLr,
        lossOptions: { margin: s.margin, minNorm: s.minNorm },
      },
      { out, quiet: true },
    );
    const seconds = (performance.now() - started) / 1000;
    const { model, classAnchors: anchors, state } = await loadCheckpointModel(out);
    const norm = { mean: state.input.mean, std: state.input.std };
    const { exhaustive } = evaluateRetrieval({
      database: await embedWithModel(model, database, norm),
      databaseLabels: database.labels,
      queries: await embedWithModel(model, queries, norm),
      queryLabels: queries.labels,
      dim: state.dim,
      classes: 10,
      anchors,
      probes: [],
    });
    model.dispose();
    const f = (x: number) => (100 * x).toFixed(2);
    console.log(
      `| ${s.margin} | ${s.minNorm} | ${s.lr} | ${s.anchorLr} | ${result.lastTerms?.loss.toFixed(4)} | ` +
        `${f(exhaustive.mAP)} | ${f(exhaustive.mapAt100)} | ${f(exhaustive.precisionAt10)} | ${seconds.toFixed(0)} |`,
    );
  }
} finally {
  await rm(root, { recursive: true, force: true });
}
