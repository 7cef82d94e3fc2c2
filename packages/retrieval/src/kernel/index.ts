export { RowStore, simdAvailable, squaredL2, TILE_ROWS } from './l2.js';
