export * from './backends/index';
export * from './data/index';
export * from './export/index';
export * from './losses/index';
export * from './models/index';
export * from './parallel/index';
export { Random, type RandomState } from './random';
export * from './train/index';
