import { type RowReader, RowStore, TILE_ROWS } from '../kernel/l2.js';

/**
 * Stage 1 of a two-stage search: the squared distances from the query at `query[offset..)` to the
 * `classes` anchors (rows of `anchors`, in the SIMD kernel), and the `needed` nearest of them,
 * nearest first with ties to the lower anchor index, written to `order` and `orderDistances`.
 * `scratch` (≥ classes entries) holds the distances when there are more anchors than one kernel
 * tile. Allocates nothing.
 */
export function rankAnchors(
  anchors: Pick<RowReader, 'setQuery' | 'distances'>,
  classes: number,
  query: Float32Array,
  offset: number,
  needed: number,
  order: Int32Array,
  orderDistances: Float32Array,
  scratch: Float32Array,
): void {
  anchors.setQuery(query, offset);
  let all: Float32Array;
  if (classes <= TILE_ROWS) {
    all = anchors.distances(0, classes);
  } else {
    for (let start = 0; start < classes; start += TILE_ROWS) {
      scratch.set(anchors.distances(start, Math.min(classes, start + TILE_ROWS)), start);
    }
    all = scratch;
  }
  if (needed === 1) {
    let best = 0;
    let bestDistance = all[0]!;
    for (let c = 1; c < classes; c++) {
      if (all[c]! < bestDistance) {
        bestDistance = all[c]!;
        best = c;
      }
    }
    order[0] = best;
    orderDistances[0] = bestDistance;
    return;
  }
  // Insertion into a sorted prefix: anchors arrive by index, so `<` keeps ties in index order.
  let size = 0;
  for (let c = 0; c < classes; c++) {
    const d = all[c]!;
    if (size === needed && !(d < orderDistances[size - 1]!)) continue;
    let i = size < needed ? size++ : size - 1;
    while (i > 0 && d < orderDistances[i - 1]!) {
      order[i] = order[i - 1]!;
      orderDistances[i] = orderDistances[i - 1]!;
      i--;
    }
    order[i] = c;
    orderDistances[i] = d;
  }
}

/**
 * The bucket `AnchorIndex` gives each unlabelled row of `vectors` (n×dim): its nearest of the
 * anchors (C×dim), ties to the lower index, by the same kernel as stage 1, so a store that keeps
 * buckets beside the index agrees with it bit for bit.
 * @example anchorBuckets(Float32Array.of(9, 9), Float32Array.of(0, 0, 10, 10), 2) // Int32Array [1]
 */
export function anchorBuckets(vectors: Float32Array, anchors: Float32Array, dim: number): Int32Array {
  const classes = anchors.length / dim;
  const n = vectors.length / dim;
  const out = new Int32Array(n);
  if (n === 0) return out;
  const store = new RowStore(dim, classes, true, 0);
  store.rows.set(anchors);
  const order = new Int32Array(1);
  const distances = new Float32Array(1);
  const scratch = new Float32Array(classes);
  for (let i = 0; i < n; i++) {
    rankAnchors(store, classes, vectors, i * dim, 1, order, distances, scratch);
    out[i] = order[0]!;
  }
  return out;
}
