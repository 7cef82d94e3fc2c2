import { type RowReader, TILE_ROWS } from '../kernel/l2.js';

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
