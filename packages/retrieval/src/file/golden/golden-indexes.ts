import { AnchorIndex } from '../../anchor/index.js';
import { FlatIndex } from '../../flat/index.js';
import type { ItemId } from '../../types.js';

/** One item as a golden file must hold it, written out by hand (not by the writer under test). */
export interface GoldenItem {
  id: ItemId;
  vector: number[];
  /** undefined: added without a label. */
  label: number | undefined;
  /** The nearest anchor for an unlabelled item of an AnchorIndex, by construction; -1 in a FlatIndex. */
  bucket: number;
}

/** A committed index file: how today's code builds it, and what it must hold. */
export interface GoldenIndex {
  kind: 'AnchorIndex' | 'FlatIndex';
  /** File name under golden/ for format version `version`. */
  file(version: number): string;
  dim: number;
  /** C×dim, row by row; undefined for a FlatIndex file. */
  anchors: number[][] | undefined;
  /** Items in insertion order. */
  items: GoldenItem[];
  /** Builds the index with today's public API (batches, a removal); its `save` writes the file. */
  build(): AnchorIndex | FlatIndex;
}

const dim = 4;
const MAX_FLOAT32 = 3.4028234663852886e38;
const SMALLEST_SUBNORMAL = 1.401298464324817e-45;

const anchorItems: GoldenItem[] = [
  { id: 'kōan', vector: [0.1, -0, SMALLEST_SUBNORMAL, 1 / 3], label: 0, bucket: 0 },
  { id: 'ünïcødé', vector: [-2.5, 1e-7, -0, MAX_FLOAT32], label: 2, bucket: 2 },
  { id: 7, vector: [0, 1, 0, -1], label: 1, bucket: 1 },
  { id: '猫', vector: [0.1, 0.9, 0, 0.2], label: undefined, bucket: 1 },
  { id: '🐟 fish', vector: [0, 0.1, 1.2, -0.3], label: undefined, bucket: 2 },
  { id: Number.MAX_SAFE_INTEGER, vector: [2, 0, 0.5, 0], label: undefined, bucket: 0 },
];

const flatItems: GoldenItem[] = [
  { id: '', vector: [1, 2, 3, 4], label: 5, bucket: -1 },
  { id: -3, vector: [-0, 0.5, -0.25, 1e-30], label: 0, bucket: -1 },
  { id: 'Ωmega\u0000nul', vector: [0.7, 0.7, 0.7, 0.7], label: undefined, bucket: -1 },
];

function rows(items: GoldenItem[]): Float32Array {
  return Float32Array.from(items.flatMap((item) => item.vector));
}

/** The committed golden index files, one AnchorIndex and one FlatIndex. */
export const GOLDEN_INDEXES: GoldenIndex[] = [
  {
    kind: 'AnchorIndex',
    file: (version) => `anchor-index.v${version}.anchorage`,
    dim,
    anchors: [
      [1, 0, 0, 0],
      [0, 1, 0, 0],
      [0, 0, 1, 0],
    ],
    items: anchorItems,
    build() {
      const index = new AnchorIndex({ dim, anchors: Float32Array.from(this.anchors!.flat()) });
      const labelled = anchorItems.slice(0, 3);
      index.add({ ids: labelled.map((item) => item.id), vectors: rows(labelled), labels: [0, 2, 1] });
      // A removed item leaves a gap in the insertion order that the file must not show.
      index.add({ ids: ['removed'], vectors: new Float32Array([0, 0, 9, 0]) });
      index.remove('removed');
      const unlabelled = anchorItems.slice(3);
      index.add({ ids: unlabelled.map((item) => item.id), vectors: rows(unlabelled) });
      return index;
    },
  },
  {
    kind: 'FlatIndex',
    file: (version) => `flat-index.v${version}.anchorage`,
    dim,
    anchors: undefined,
    items: flatItems,
    build() {
      const index = new FlatIndex({ dim });
      const labelled = flatItems.slice(0, 2);
      index.add({ ids: labelled.map((item) => item.id), vectors: rows(labelled), labels: [5, 0] });
      index.add({ ids: [flatItems[2]!.id], vectors: rows(flatItems.slice(2)) });
      return index;
    },
  },
];
