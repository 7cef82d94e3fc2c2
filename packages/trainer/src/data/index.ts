export {
  type Batch,
  type BatchOptions,
  batchCount,
  iterateBatches,
  type Normalization,
  UNIT_NORMALIZATION,
} from './batches';
export {
  type Dataset,
  type DatasetLoader,
  imageSize,
  type LoadDatasetOptions,
  type Split,
  subset,
} from './dataset';
export { encodeIdx, type IdxArray, type IdxDtype, isGzip, parseIdx, readIdxFile } from './idx';
export {
  DEBIAN_FASHION_MNIST_DIR,
  FASHION_MNIST_CLASSES,
  fashionMnistLoader,
  loadIdxImageDataset,
  MNIST_CLASSES,
  mnistDataPackageDir,
  mnistLoader,
} from './mnist';
export { getDatasetLoader, listDatasets, loadDataset, registerDataset } from './registry';
export { epochOrder, limitIndices, sampleShots } from './sampling';
