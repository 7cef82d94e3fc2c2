export { AnchorIndex, type AnchorIndexOptions } from './anchor-index.js';
export { anchorBuckets } from './stage-one.js';
