export { AnchorIndex, type AnchorIndexOptions, type Compression } from './anchor-index.js';
export { anchorBuckets } from './stage-one.js';
