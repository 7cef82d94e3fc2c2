import { AnchorIndex } from './anchor/index.js';
import { readIndexFile } from './file/index-file.js';
import { FlatIndex } from './flat/index.js';

/**
 * Opens any index file with one read: an AnchorIndex when the file holds anchors, else a FlatIndex.
 * @example
 * const index = await loadIndex('catalog.anchorage');
 * index.search(query, { k: 10, probe: 2 });
 */
export async function loadIndex(path: string): Promise<AnchorIndex | FlatIndex> {
  const file = await readIndexFile(path);
  return file.anchors === undefined ? FlatIndex.fromContents(file) : AnchorIndex.fromContents(file);
}
