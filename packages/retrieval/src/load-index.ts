import type { LoadOptions } from './anchor/anchor-index.js';
import { AnchorIndex } from './anchor/index.js';
import { readIndexFile } from './file/index-file.js';
import { FlatIndex } from './flat/index.js';

/**
 * Opens any index file with one read: an AnchorIndex when the file holds anchors (built with
 * `options`, e.g. `{ compression: 'int8' }`), else a FlatIndex (always exact; `options` unused).
 * @example
 * const index = await loadIndex('catalog.anchorage');
 * index.search(query, { k: 10, probe: 2 });
 */
export async function loadIndex(path: string, options: LoadOptions = {}): Promise<AnchorIndex | FlatIndex> {
  const file = await readIndexFile(path);
  return file.anchors === undefined ? FlatIndex.fromContents(file) : AnchorIndex.fromContents(file, options);
}
