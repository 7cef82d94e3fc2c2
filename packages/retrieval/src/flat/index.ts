export { FlatIndex, type FlatIndexOptions } from './flat-index.js';
