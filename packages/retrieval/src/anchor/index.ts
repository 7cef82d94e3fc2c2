export { AnchorIndex, type AnchorIndexOptions } from './anchor-index.js';
