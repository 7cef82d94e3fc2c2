export { AnchorIndex, type AnchorIndexOptions, type Compression, type LoadOptions } from './anchor-index.js';
export { anchorBuckets } from './stage-one.js';
