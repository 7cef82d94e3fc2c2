export * from './backends/index';
export * from './data/index';
export * from './models/index';
export { Random, type RandomState } from './random';
