export {
  AUGMENT_POLICIES,
  type AugmentPolicy,
  augmentImage,
  augmentRandom,
  checkAugmentPolicy,
} from './augment';
export {
  type Batch,
  type BatchOptions,
  batchCount,
  iterateBatches,
  type Normalization,
  UNIT_NORMALIZATION,
} from './batches';
export { CIFAR10_CLASSES, cifar10Loader, cifar100Loader, loadCifar10, loadCifar100 } from './cifar';
export {
  checkInputOptions,
  convertDataset,
  forEachConcurrent,
  type InputOptions,
  targetGeometry,
} from './convert';
export {
  type Dataset,
  type DatasetDefaults,
  type DatasetLoader,
  type FormatOptions,
  imageSize,
  type LoadDatasetOptions,
  type Split,
  subset,
} from './dataset';
export {
  fitImage,
  IMAGE_FITS,
  type ImageFit,
  type ImageGeometry,
  MAX_INPUT_PIXELS,
  type RawImage,
} from './fit';
export { food101Loader, listFood101 } from './food101';
export { encodeIdx, type IdxArray, type IdxDtype, isGzip, parseIdx, readIdxFile } from './idx';
export {
  defaultCacheDir,
  type ImageCacheOptions,
  type ImageList,
  isImageList,
  openImageList,
} from './image-cache';
export { IMAGE_EXTENSIONS, imageFolderLoader, listImageFolder } from './image-folder';
export { type MatArray, readMat } from './mat';
export {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  fashionMnistLoader,
  loadIdxImageDataset,
  MNIST_CLASSES,
  mnistDataPackageDir,
  mnistLoader,
} from './mnist';
export {
  changesInput,
  datasetDefaults,
  getDatasetLoader,
  listDatasets,
  loadDataset,
  type OpenSplitOptions,
  openSplit,
  registerDataset,
} from './registry';
export { carveValidation, epochOrder, limitIndices, sampleShots } from './sampling';
export {
  allImages,
  fileSplit,
  type ImageSet,
  isStreaming,
  readImages,
  type StreamingSplit,
  subsetSplit,
} from './split';
export { loadSvhn, readSvhnFile, SVHN_CLASSES, svhnLoader } from './svhn';
export { listTinyImageNet, tinyImageNetLoader } from './tiny-imagenet';
