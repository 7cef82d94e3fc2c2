// One definition of image preprocessing, shared with the server's image queries: a query is
// resized exactly as the training and test images were.
export {
  fitImage,
  IMAGE_FITS,
  type ImageFit,
  type ImageGeometry,
  MAX_INPUT_PIXELS,
  type RawImage,
} from '@anchorage/model-bundle';
