export {
  type BackboneFactory,
  type BackboneInputContract,
  type BackboneOptionSpec,
  type BackboneOptions,
  type BackboneOwnOptions,
  checkInputContract,
  seedStream,
} from './backbone';
export { cutModel, isModelFile, readLayersModelFile } from './own-model';
export { createRefCnn } from './refcnn';
export {
  backboneInputContract,
  backboneOptionSpecs,
  createBackbone,
  getBackboneFactory,
  listBackbones,
  loadBackbone,
  refCnnFactory,
  registerBackbone,
  resNet18CpuFactory,
  resNet18Factory,
  resolveBackboneOptions,
  vitFactory,
  vitTinyFactory,
} from './registry';
export { createResNet18, resnetChannels } from './resnet18';
export { createVit, type VitShape, vitPatch } from './vit';
export {
  ClassToken,
  ClassTokenPooling,
  LayerNorm,
  MultiHeadSelfAttention,
  PositionEmbedding,
  registerVitLayers,
} from './vit-layers';
