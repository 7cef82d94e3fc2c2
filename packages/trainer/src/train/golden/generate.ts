// Rewrites the golden checkpoint and model bundle of the current format versions. Run it only
// when a format changes on purpose (after bumping CHECKPOINT_FORMAT_VERSION or
// BUNDLE_FORMAT_VERSION), never from a test; the folders of older versions stay committed so that
// the tests keep proving they load:
//   pnpm exec tsx --conditions=@anchorage/source src/train/golden/generate.ts
import { rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { silenceCpuBanner } from '../../backends/quiet';
import { BUNDLE_FORMAT_VERSION } from '../../export/bundle';
import { CHECKPOINT_FORMAT_VERSION } from '../checkpoint';
import {
  createGoldenModel,
  goldenNames,
  tfjsEmbeddings,
  writeGoldenBundle,
  writeGoldenCheckpoint,
} from './golden-files';

silenceCpuBanner();
await tf.setBackend('cpu');
const here = dirname(fileURLToPath(import.meta.url));
const checkpoint = join(here, goldenNames.checkpoint(CHECKPOINT_FORMAT_VERSION));
const bundle = join(here, goldenNames.bundle(BUNDLE_FORMAT_VERSION));
await rm(checkpoint, { recursive: true, force: true });
await rm(bundle, { recursive: true, force: true });
await writeGoldenCheckpoint(checkpoint);
console.log(`wrote ${checkpoint}`);
await writeGoldenBundle(checkpoint, bundle);
console.log(`wrote ${bundle}`);
const model = createGoldenModel();
const expected = join(here, goldenNames.expectedEmbeddings(BUNDLE_FORMAT_VERSION));
await writeFile(expected, `${JSON.stringify(Array.from(await tfjsEmbeddings(model)))}\n`);
model.dispose();
console.log(`wrote ${expected}`);
