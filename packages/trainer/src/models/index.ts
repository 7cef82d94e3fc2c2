export { type BackboneFactory, type BackboneOptions, seedStream } from './backbone';
export { createRefCnn } from './refcnn';
export { createBackbone, listBackbones, refCnnFactory, registerBackbone } from './registry';
