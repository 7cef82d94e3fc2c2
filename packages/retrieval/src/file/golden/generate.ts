// Rewrites the golden index files of the current format version. Run it only when the format
// changes on purpose (after bumping INDEX_FILE_VERSION), never from a test; the files of older
// versions stay committed so that the test keeps proving they load:
//   pnpm exec tsx --conditions=@anchorage/source src/file/golden/generate.ts
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { INDEX_FILE_VERSION } from '../index-file.js';
import { GOLDEN_INDEXES } from './golden-indexes.js';

const here = dirname(fileURLToPath(import.meta.url));
for (const golden of GOLDEN_INDEXES) {
  const path = join(here, golden.file(INDEX_FILE_VERSION));
  await golden.build().save(path);
  console.log(`wrote ${path}`);
}
